import type { Clock } from '#core/clock.ts'
import type { Database } from '#core/db/client.ts'
import {
  findSignInCandidates,
  insertUser,
  linkGoogleSub,
  recordSignIn,
  type User,
} from '#core/db/users.ts'
import type { GoogleIdentity, GoogleRefusal, GoogleVerifier } from './google.ts'
import type { AppTokens, IssuedToken } from './tokens.ts'

/**
 * Why a sign-in was refused: the ID token's checks (`GoogleRefusal`), or the account's state:
 * `pending` (role `no_access`, waiting for an admin), `disabled`, `email-taken` (the e-mail
 * belongs to a row already linked to another Google account), or `personal-account` (a Google
 * account without `hd` for an address on a Workspace domain).
 */
export type SignInRefusal =
  | GoogleRefusal
  | 'pending'
  | 'disabled'
  | 'email-taken'
  | 'personal-account'

/** A signed-in user with a fresh token, or the refusal (with the user's id when a row exists). */
export type SignInResult =
  | { ok: true; user: User; token: IssuedToken }
  | { ok: false; reason: SignInRefusal; userId?: string; detail?: string }

/** Signs a Google ID token in: verifies it, finds or creates the user, issues an app token. */
export type SignIn = (credential: string, options: { rememberMe: boolean }) => Promise<SignInResult>

type Resolution =
  | { kind: 'user'; user: User }
  | { kind: 'retry' }
  | Extract<SignInResult, { ok: false }>

// A concurrent first sign-in of the same person can win a race for the row; look again.
const MAX_ATTEMPTS = 3

/**
 * Sign-in as docs/ARCHITECTURE.md ("Authentication") describes it. Writes only what the outcome
 * needs: a refused token, or a personal account on a Workspace domain, writes nothing; an unknown person gets a `no_access` row (so an admin can approve them) and a pending
 * answer; a pre-provisioned row is linked to its Google `sub` once; a disabled account is left
 * untouched; `last_login_at` (and an `ADMIN_EMAILS` promotion) is written for accepted sign-ins only.
 */
export function createSignIn(deps: {
  db: Database
  clock: Clock
  google: GoogleVerifier
  tokens: AppTokens
  /** lower-case addresses that are made or promoted admin on sign-in, never demoted */
  adminEmails: readonly string[]
  /** lower-case domains on Google Workspace, whose accounts must carry `hd` */
  workspaceDomains: readonly string[]
}): SignIn {
  async function resolve(identity: GoogleIdentity, isAdminEmail: boolean): Promise<Resolution> {
    const now = deps.clock.now()
    const { bySub, byEmail } = await findSignInCandidates(deps.db, {
      googleSub: identity.sub,
      email: identity.email,
    })
    if (bySub) {
      return { kind: 'user', user: bySub }
    }
    if (byEmail) {
      // Keyed by `sub`: an address already linked to another Google account is not taken over.
      if (byEmail.googleSub !== null) {
        return { ok: false, reason: 'email-taken', userId: byEmail.id }
      }
      if (!byEmail.isActive) {
        return { ok: false, reason: 'disabled', userId: byEmail.id }
      }
      const linked = await linkGoogleSub(deps.db, byEmail.id, identity.sub, now)
      return linked ? { kind: 'user', user: linked } : { kind: 'retry' }
    }
    const created = await insertUser(deps.db, {
      googleSub: identity.sub,
      email: identity.email,
      name: identity.name ?? '',
      role: isAdminEmail ? 'admin' : 'no_access',
    })
    return created ? { kind: 'user', user: created } : { kind: 'retry' }
  }

  return async (credential, { rememberMe }) => {
    const verified = await deps.google.verify(credential)
    if (!verified.ok) {
      return verified
    }
    const { identity } = verified
    // On a Workspace domain the organisation vouches for its people through `hd`. A personal
    // account with such an address (an ex-employee's, a shared alias, a catch-all mailbox) only
    // proved the address when it was created: it may not link a waiting row, take an
    // ADMIN_EMAILS slot, or queue up as pending for an admin to approve under the real owner's
    // name. Refused before anything is read or written.
    if (
      deps.workspaceDomains.includes(identity.domain) &&
      identity.hostedDomain !== identity.domain
    ) {
      return { ok: false, reason: 'personal-account' }
    }
    const isAdminEmail = deps.adminEmails.includes(identity.email.toLowerCase())

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const resolution = await resolve(identity, isAdminEmail)
      if ('ok' in resolution) {
        return resolution
      }
      if (resolution.kind === 'retry') {
        continue
      }
      const { user } = resolution
      if (!user.isActive) {
        return { ok: false, reason: 'disabled', userId: user.id }
      }
      if (user.role === 'no_access' && !isAdminEmail) {
        return { ok: false, reason: 'pending', userId: user.id }
      }
      const recorded = await recordSignIn(deps.db, user.id, {
        at: deps.clock.now(),
        name: identity.name,
        promoteToAdmin: isAdminEmail && user.role !== 'admin',
      })
      if (!recorded) {
        // Deactivated between the read and the write.
        return { ok: false, reason: 'disabled', userId: user.id }
      }
      return { ok: true, user: recorded, token: await deps.tokens.issue(recorded, { rememberMe }) }
    }
    throw new Error('sign-in could not settle the user row after concurrent changes')
  }
}
