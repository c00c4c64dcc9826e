import { createHash, randomUUID } from 'node:crypto'
import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import * as v from 'valibot'
import type { Clock } from '#core/clock.ts'
import type { Role } from '#core/db/users.ts'
import { AppError } from '#core/errors.ts'

/** The `iss` of every app token. */
export const TOKEN_ISSUER = 'agent-pm'
/** The `aud` of every app token. */
export const TOKEN_AUDIENCE = 'agent-pm-api'

/** How much the issuing and the checking container's clocks may disagree, in seconds. */
const CLOCK_TOLERANCE_SECONDS = 5
const REMEMBER_ME_FACTOR = 7

/**
 * The longest a session lives, in seconds (30 days), counted from the sign-in that opened it (the
 * token's `sat` claim, which refresh carries over): refresh is refused past it, and no token of
 * the session expires after it.
 */
export const MAX_SESSION_AGE_SECONDS = 30 * 24 * 3600

/** The verified content of an app token. */
export type TokenClaims = {
  userId: string
  role: Role
  /** the user's token version when issued; a bump revokes the token */
  version: number
  /** whether the session was opened with "remember me" (7 × the lifetime); refresh keeps it */
  rememberMe: boolean
  tokenId: string
  issuedAt: Date
  expiresAt: Date
  /** when the session was opened by a sign-in (`sat`); null in tokens from before the claim */
  sessionStartedAt: Date | null
}

/** A freshly signed app token. */
export type IssuedToken = { token: string; expiresAt: Date }

/** Issues and verifies the API's own bearer tokens (HS256). */
export type AppTokens = {
  /**
   * Signs a token for `user`. Without `sessionStartedAt` it opens a session (sign-in); refresh
   * passes the old token's, so the session keeps its start and ends `MAX_SESSION_AGE_SECONDS` after it.
   */
  issue(
    user: { id: string; role: Role; tokenVersion: number },
    options: { rememberMe: boolean; sessionStartedAt?: Date | undefined },
  ): Promise<IssuedToken>
  /** @throws {AppError} UNAUTHENTICATED for anything but a valid, unexpired token of ours */
  verify(token: string): Promise<TokenClaims>
}

const Claims = v.object({
  sub: v.pipe(v.string(), v.uuid()),
  role: v.picklist(['no_access', 'member', 'admin']),
  ver: v.pipe(v.number(), v.integer(), v.minValue(0)),
  rme: v.optional(v.boolean(), false),
  jti: v.pipe(v.string(), v.nonEmpty()),
  sat: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  iat: v.number(),
  exp: v.number(),
})

/** The `kid` of a secret: a short SHA-256 prefix, so rotation can pick the key without trying all. */
export function keyIdOf(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16)
}

function unauthenticated(cause?: unknown): AppError {
  return new AppError('UNAUTHENTICATED', 'The session token is not valid; sign in again.', {
    cause,
    headers: { 'WWW-Authenticate': 'Bearer' },
  })
}

/**
 * App tokens signed with `secret`; tokens signed with `previousSecret` still verify (by `kid`)
 * while a rotation is under way. Only HS256 is accepted.
 * @example const tokens = createAppTokens({ secret, ttlHours: 24, clock: systemClock })
 */
export function createAppTokens(options: {
  secret: string
  previousSecret?: string | undefined
  ttlHours: number
  clock: Clock
}): AppTokens {
  const encoder = new TextEncoder()
  const current = { kid: keyIdOf(options.secret), key: encoder.encode(options.secret) }
  const keys = new Map([[current.kid, current.key]])
  if (options.previousSecret) {
    keys.set(keyIdOf(options.previousSecret), encoder.encode(options.previousSecret))
  }
  const ttlSeconds = options.ttlHours * 3600

  return {
    async issue(user, { rememberMe, sessionStartedAt }) {
      const now = Math.floor(options.clock.now().getTime() / 1000)
      const sat = sessionStartedAt ? Math.floor(sessionStartedAt.getTime() / 1000) : now
      const exp = Math.min(
        now + ttlSeconds * (rememberMe ? REMEMBER_ME_FACTOR : 1),
        sat + MAX_SESSION_AGE_SECONDS,
      )
      const claims = { role: user.role, ver: user.tokenVersion, rme: rememberMe, sat }
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: current.kid })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(user.id)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(current.key)
      return { token, expiresAt: new Date(exp * 1000) }
    },

    async verify(token) {
      let payload: JWTPayload
      try {
        const verified = await jwtVerify(
          token,
          (header) => {
            const key = keys.get(header.kid ?? '')
            if (!key) {
              throw new errors.JWKSNoMatchingKey()
            }
            return key
          },
          {
            algorithms: ['HS256'],
            issuer: TOKEN_ISSUER,
            audience: TOKEN_AUDIENCE,
            requiredClaims: ['sub', 'jti', 'iat', 'exp'],
            currentDate: options.clock.now(),
            clockTolerance: CLOCK_TOLERANCE_SECONDS,
            // Also refuses an `iat` in the future.
            maxTokenAge: ttlSeconds * REMEMBER_ME_FACTOR,
          },
        )
        payload = verified.payload
      } catch (err) {
        if (err instanceof errors.JOSEError) {
          throw unauthenticated(err)
        }
        throw err
      }
      const claims = v.safeParse(Claims, payload)
      if (!claims.success) {
        throw unauthenticated()
      }
      const { sub, role, ver, rme, jti, sat, iat, exp } = claims.output
      return {
        userId: sub,
        role,
        version: ver,
        rememberMe: rme,
        tokenId: jti,
        issuedAt: new Date(iat * 1000),
        expiresAt: new Date(exp * 1000),
        sessionStartedAt: sat === undefined ? null : new Date(sat * 1000),
      }
    },
  }
}
