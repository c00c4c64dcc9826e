import type { Database } from '#core/db/client.ts'
import { findUserById, type User } from '#core/db/users.ts'
import { AppError } from '#core/errors.ts'
import type { HttpRequest } from '#core/http/types.ts'
import type { Logger } from '#core/log.ts'
import type { AdminKeyCheck } from './admin-key.ts'
import type { AppTokens, TokenClaims } from './tokens.ts'

/** A signed-in user with access, read from the database on this request. */
export type Session = { user: User; claims: TokenClaims }

/** Who is acting as an admin: a user with the admin role, or the holder of an admin key. */
export type Principal =
  | { kind: 'user' /** the user's id */; id: string; user: User }
  | { kind: 'admin-key' /** `admin-key:` and the key digest's first 12 hex digits */; id: string }

/** The checks other functions call. Each re-reads the user, so changes take effect at once. */
export type Guard = {
  /** @throws {AppError} UNAUTHENTICATED, ACCOUNT_DISABLED or ACCESS_PENDING */
  authenticate(req: HttpRequest): Promise<Session>
  /** Admins pass every role check. @throws {AppError} as `authenticate`, or FORBIDDEN */
  requireRole(req: HttpRequest, role: 'member' | 'admin'): Promise<User>
  /** An admin's bearer token or a valid `X-Admin-Key`. @throws {AppError} as `requireRole` */
  requireAdmin(req: HttpRequest): Promise<Principal>
  /** Whether `requireAdmin` would pass; never throws (for optional admin-only detail). */
  isAdmin(req: HttpRequest): Promise<boolean>
  /** Whether the request carries a valid `X-Monitor-Token` (uptime monitors); never throws. */
  isMonitor(req: Pick<HttpRequest, 'headers'>): boolean
  /**
   * The principal a request's credentials name, checked cheaply (a token's signature, a key's
   * digest; no database read), for counting it (docs/ARCHITECTURE.md, "Rate limits and pacing"):
   * `<user id>:v<token version>`, `admin-key:<id>` or `monitor:<id>`. A user's tokens count by
   * their version, so after "sign out everywhere" a stolen old token (still well signed) drains
   * only its own, revoked, budget, never the person's new one. `undefined` when the request carries no
   * credential, or any credential it carries does not verify, so a made-up one counts against
   * the client address like no credential at all. Never throws.
   */
  identify(headers: Readonly<Record<string, string>>): Promise<string | undefined>
}

// A compact JWS of ours is a few hundred characters.
const MAX_TOKEN_LENGTH = 4096
const BEARER = /^Bearer +(\S+)$/i
const CHALLENGE = { 'WWW-Authenticate': 'Bearer' }

function unauthenticated(message: string): AppError {
  return new AppError('UNAUTHENTICATED', message, { headers: CHALLENGE })
}

/**
 * The bearer token of `Authorization: Bearer <token>` (the only place a token is read from).
 * @throws {AppError} UNAUTHENTICATED when the header is missing or malformed
 */
export function bearerTokenOf(headers: Readonly<Record<string, string>>): string {
  const header = headers.authorization
  if (header === undefined) {
    throw unauthenticated('Sign in first: send Authorization: Bearer <token>.')
  }
  const token = BEARER.exec(header.trim())?.[1]
  if (!token || token.length > MAX_TOKEN_LENGTH) {
    throw unauthenticated('The Authorization header must be "Bearer <token>".')
  }
  return token
}

/** The request guard over app tokens, the users table and admin keys. */
export function createGuard(deps: {
  db: Database
  log: Logger
  tokens: AppTokens
  adminKeys: AdminKeyCheck
  /** digests of `X-Monitor-Token`s (none: every monitor token is refused) */
  monitorTokens?: AdminKeyCheck
}): Guard {
  const monitorTokens = deps.monitorTokens ?? (() => ({ kind: 'disabled' }) as const)

  async function authenticate(req: HttpRequest): Promise<Session> {
    const claims = await deps.tokens.verify(bearerTokenOf(req.headers))
    const user = await findUserById(deps.db, claims.userId)
    // A bumped version means the user signed out everywhere after this token was issued.
    if (!user || user.tokenVersion !== claims.version) {
      throw unauthenticated('This session has ended; sign in again.')
    }
    if (!user.isActive) {
      throw new AppError('ACCOUNT_DISABLED', 'This account has been disabled.')
    }
    if (user.role === 'no_access') {
      throw new AppError('ACCESS_PENDING', 'This account is waiting for an administrator.')
    }
    return { user, claims }
  }

  async function requireRole(req: HttpRequest, role: 'member' | 'admin'): Promise<User> {
    const { user } = await authenticate(req)
    // The role comes from the database, not from the token.
    if (user.role !== role && user.role !== 'admin') {
      throw new AppError('FORBIDDEN', 'You do not have permission to do this.')
    }
    return user
  }

  async function requireAdmin(req: HttpRequest): Promise<Principal> {
    const key = req.headers['x-admin-key']
    // A key that is present but wrong is refused, never treated as absent.
    if (key !== undefined) {
      const decision = deps.adminKeys(key)
      if (decision.kind === 'disabled') {
        throw unauthenticated('Admin keys are not enabled on this server.')
      }
      if (decision.kind === 'invalid') {
        throw unauthenticated('The admin key is not valid.')
      }
      const id = `admin-key:${decision.keyId}`
      deps.log.info({ requestId: req.requestId, principal: id }, 'admin key accepted')
      return { kind: 'admin-key', id }
    }
    const user = await requireRole(req, 'admin')
    return { kind: 'user', id: user.id, user }
  }

  async function isAdmin(req: HttpRequest): Promise<boolean> {
    if (req.headers['x-admin-key'] === undefined && req.headers.authorization === undefined) {
      return false
    }
    return requireAdmin(req).then(
      () => true,
      () => false,
    )
  }

  function isMonitor(req: Pick<HttpRequest, 'headers'>): boolean {
    const token = req.headers['x-monitor-token']
    return token !== undefined && monitorTokens(token).kind === 'valid'
  }

  async function identify(headers: Readonly<Record<string, string>>) {
    const key = headers['x-admin-key']
    const monitor = headers['x-monitor-token']
    let principal: string | undefined
    if (key !== undefined) {
      const decision = deps.adminKeys(key)
      if (decision.kind !== 'valid') {
        return undefined
      }
      principal = `admin-key:${decision.keyId}`
    }
    if (headers.authorization !== undefined) {
      try {
        const claims = await deps.tokens.verify(bearerTokenOf(headers))
        principal ??= `${claims.userId}:v${claims.version}`
      } catch {
        return undefined
      }
    }
    if (monitor !== undefined) {
      const decision = monitorTokens(monitor)
      if (decision.kind !== 'valid') {
        return undefined
      }
      principal ??= `monitor:${decision.keyId}`
    }
    return principal
  }

  return { authenticate, requireRole, requireAdmin, isAdmin, isMonitor, identify }
}
