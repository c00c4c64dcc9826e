import type { Clock } from '#core/clock.ts'
import type { Config } from '#core/config.ts'
import type { Database } from '#core/db/client.ts'
import { bumpTokenVersion, type User } from '#core/db/users.ts'
import { AppError } from '#core/errors.ts'
import type { HttpRequest } from '#core/http/types.ts'
import type { Logger } from '#core/log.ts'
import { createAdminKeyCheck } from './admin-key.ts'
import { createGoogleVerifier } from './google.ts'
import { createGuard, type Guard } from './guard.ts'
import { createSignIn, type SignIn } from './sign-in.ts'
import { createAppTokens, type IssuedToken, MAX_SESSION_AGE_SECONDS } from './tokens.ts'

/** A session opened or renewed: the token and the user as stored now. */
export type SignedIn = { user: User; token: IssuedToken }

/** The `auth` service: the request guard plus the session operations of `v1/login`. */
export type Auth = Guard & {
  /** Verifies a Google ID token and opens a session; refusals are data (`SignInResult`). */
  signIn: SignIn
  /**
   * A new token for the bearer of a valid, unexpired one, in the same session; `rememberMe`
   * defaults to the old token's choice and can shorten it, never lengthen it (a 24-hour session
   * stays one). The old token stays valid until it expires. A session
   * is renewed for at most `MAX_SESSION_AGE_SECONDS` (30 days) after its sign-in, and none of
   * its tokens outlives that; then the person signs in again.
   * @throws {AppError} UNAUTHENTICATED when the session is older than 30 days, or the token
   * carries no session start (`sat`); otherwise as `authenticate`
   */
  refresh(req: HttpRequest, options: { rememberMe?: boolean | undefined }): Promise<SignedIn>
  /** Ends every session of the caller by bumping the token version. @throws {AppError} as `authenticate` */
  signOutEverywhere(req: HttpRequest): Promise<User>
}

/** Knobs for tests; production uses the defaults. */
export type AuthOptions = { jwksTimeoutMs?: number; jwksCooldownMs?: number }

/**
 * Builds the `auth` service once per warm container: Google's key set is created here and cached
 * by jose for the container's life (no fetch happens until the first sign-in).
 * @example const auth = createAuth({ config, db, clock, log }); const user = await auth.requireRole(req, 'member')
 */
export function createAuth(
  deps: { config: Config; db: Database; clock: Clock; log: Logger },
  options: AuthOptions = {},
): Auth {
  const { auth: settings } = deps.config
  const tokens = createAppTokens({
    secret: settings.jwtSecret,
    previousSecret: settings.jwtPreviousSecret,
    ttlHours: settings.tokenTtlHours,
    clock: deps.clock,
  })
  const google = createGoogleVerifier({
    clientId: settings.googleClientId,
    jwksUrl: settings.googleJwksUrl,
    allowedDomains: settings.allowedEmailDomains,
    clock: deps.clock,
    ...(options.jwksTimeoutMs !== undefined && { jwksTimeoutMs: options.jwksTimeoutMs }),
    ...(options.jwksCooldownMs !== undefined && { jwksCooldownMs: options.jwksCooldownMs }),
  })
  const guard = createGuard({
    db: deps.db,
    log: deps.log,
    tokens,
    adminKeys: createAdminKeyCheck(settings.adminKeyDigests),
    monitorTokens: createAdminKeyCheck(settings.monitorTokenDigests),
  })
  const signIn = createSignIn({
    db: deps.db,
    clock: deps.clock,
    google,
    tokens,
    adminEmails: settings.adminEmails,
    workspaceDomains: settings.workspaceDomains,
  })

  return {
    ...guard,
    signIn,
    async refresh(req, { rememberMe }) {
      const { user, claims } = await guard.authenticate(req)
      const startedAt = claims.sessionStartedAt
      const nowMs = deps.clock.now().getTime()
      // No `sat`: a token from before sessions had a start, so its age cannot be told.
      if (!startedAt || nowMs - startedAt.getTime() > MAX_SESSION_AGE_SECONDS * 1000) {
        throw new AppError('UNAUTHENTICATED', 'This session is too old to renew; sign in again.', {
          headers: { 'WWW-Authenticate': 'Bearer' },
        })
      }
      // Keep or shorten: whoever holds a short session's token cannot turn it into a long one.
      const token = await tokens.issue(user, {
        rememberMe: claims.rememberMe && (rememberMe ?? true),
        sessionStartedAt: startedAt,
      })
      return { user, token }
    },
    async signOutEverywhere(req) {
      const { user } = await guard.authenticate(req)
      const bumped = await bumpTokenVersion(deps.db, user.id, deps.clock.now())
      if (!bumped) {
        throw new AppError('UNAUTHENTICATED', 'This session has ended; sign in again.')
      }
      return bumped
    },
  }
}
