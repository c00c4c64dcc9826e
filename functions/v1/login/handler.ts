import * as v from 'valibot'
import type { SignedIn } from '#core/auth/service.ts'
import type { SignInRefusal } from '#core/auth/sign-in.ts'
import type { User } from '#core/db/users.ts'
import { AppError, type ErrorCode } from '#core/errors.ts'
import { createRouter } from '#core/http/router.ts'
import type { HttpHandler, HttpRequest, HttpResponse } from '#core/http/types.ts'
import { clientKeyOf } from '#core/rate-limit/keys.ts'
import { enforceLimits, LIMITS } from '#core/rate-limit/rules.ts'
import type { Services } from '#core/services.ts'
import { parseInput } from '#core/validation/parse.ts'

/** The longest credential accepted; Google's ID tokens are about 1 KB. */
export const MAX_CREDENTIAL_LENGTH = 4096

/** POST v1/login body. */
export const SignInBody = v.strictObject({
  /** the Google Identity Services ID token, 1–4096 characters */
  credential: v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_CREDENTIAL_LENGTH)),
  /** a 7 × longer session (7 days by default) */
  rememberMe: v.optional(v.boolean(), false),
})

/** POST v1/login/refresh body (optional): `rememberMe` defaults to the current token's choice. */
export const RefreshBody = v.optional(v.strictObject({ rememberMe: v.optional(v.boolean()) }), {})

/** The user as the API shows it. */
export type UserView = {
  id: string
  email: string
  name: string
  role: User['role']
  isActive: boolean
  lastLoginAt: string | null
  createdAt: string
}

/** The user as the API shows it (no Google `sub`, no token version). */
export function toUserView(user: User): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    isActive: user.isActive,
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
  }
}

// Each refusal's answer. Token problems are 401; a good token for a person we will not let in, 403.
const REFUSALS: Record<SignInRefusal, { code: ErrorCode; message: string }> = {
  'invalid-token': {
    code: 'UNAUTHENTICATED',
    message: 'The Google sign-in could not be verified.',
  },
  expired: { code: 'UNAUTHENTICATED', message: 'The Google sign-in has expired; try again.' },
  'email-unverified': {
    code: 'UNAUTHENTICATED',
    message: 'The Google account has no verified e-mail address.',
  },
  'domain-not-allowed': {
    code: 'FORBIDDEN',
    message: 'Accounts of this e-mail domain may not sign in.',
  },
  'hd-mismatch': { code: 'FORBIDDEN', message: 'Accounts of this e-mail domain may not sign in.' },
  'email-not-ascii': {
    code: 'FORBIDDEN',
    message: 'Only plain (ASCII) e-mail addresses may sign in.',
  },
  'personal-account': {
    code: 'FORBIDDEN',
    message: "Sign in with your organisation's Google Workspace account, not a personal one.",
  },
  'email-taken': {
    code: 'FORBIDDEN',
    message: 'This e-mail address is linked to another Google account; ask an administrator.',
  },
  pending: {
    code: 'ACCESS_PENDING',
    message: 'Your account is waiting for an administrator to grant access.',
  },
  disabled: { code: 'ACCOUNT_DISABLED', message: 'This account has been disabled.' },
  'keys-unavailable': {
    code: 'UNAVAILABLE',
    message: 'Google sign-in cannot be checked right now; try again shortly.',
  },
}

/** The 200 answer to a sign-in or a refresh: the new token, when it ends, and whose it is. */
function signedIn({ user, token }: SignedIn, headers: Record<string, string>): HttpResponse {
  return {
    status: 200,
    headers,
    body: { token: token.token, expiresAt: token.expiresAt.toISOString(), user: toUserView(user) },
  }
}

export type LoginDeps = Pick<Services, 'auth' | 'rateLimiter' | 'log' | 'clock'>

/**
 * v1/login: `POST` signs in with a Google ID token, `GET` returns the current user,
 * `POST /refresh` renews a valid token, `DELETE` signs out everywhere.
 */
export function createLoginHandler(deps: LoginDeps): HttpHandler {
  // 10 a minute per client address (an IPv6 /64), shared by sign-in and refresh; a failing store
  // refuses (503).
  const limitLogin = (req: HttpRequest) =>
    enforceLimits(
      { ...deps, now: () => deps.clock.now().getTime() },
      [LIMITS.login],
      clientKeyOf(req.clientIp),
      { failClosed: true },
    )

  return createRouter([
    {
      method: 'POST',
      path: '/',
      handle: async (req) => {
        const headers = await limitLogin(req)
        const input = parseInput(SignInBody, req.body)
        const result = await deps.auth.signIn(input.credential, { rememberMe: input.rememberMe })
        if (!result.ok) {
          const { reason, userId, detail } = result
          const log = { requestId: req.requestId, outcome: 'refused', reason, userId, detail }
          deps.log.info(log, 'sign-in refused')
          const refusal = REFUSALS[reason]
          throw new AppError(refusal.code, refusal.message, { headers })
        }
        const { user } = result
        deps.log.info(
          { requestId: req.requestId, outcome: 'accepted', userId: user.id, role: user.role },
          'sign-in accepted',
        )
        return signedIn(result, headers)
      },
    },
    {
      method: 'GET',
      path: '/',
      handle: async (req) => {
        const { user } = await deps.auth.authenticate(req)
        return { status: 200, body: { user: toUserView(user) } }
      },
    },
    {
      method: 'POST',
      path: '/refresh',
      handle: async (req) => {
        const headers = await limitLogin(req)
        const input = parseInput(RefreshBody, req.body)
        const refreshed = await deps.auth.refresh(req, { rememberMe: input.rememberMe })
        deps.log.info({ requestId: req.requestId, userId: refreshed.user.id }, 'session refreshed')
        return signedIn(refreshed, headers)
      },
    },
    {
      method: 'DELETE',
      path: '/',
      handle: async (req) => {
        const user = await deps.auth.signOutEverywhere(req)
        deps.log.info({ requestId: req.requestId, userId: user.id }, 'signed out everywhere')
        return { status: 204 }
      },
    },
  ])
}
