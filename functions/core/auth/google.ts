import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose'
import type { Clock } from '#core/clock.ts'

/** Both spellings Google still issues. */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com']

/** A Google account that passed every check. */
export type GoogleIdentity = {
  sub: string
  email: string
  /** the lower-cased part after the `@`, one of the allowed domains */
  domain: string
  /**
   * the Workspace domain (`hd`, lower-cased), which equals `domain` when present; `undefined`
   * for a personal account, which proved the address once, when it was created
   */
  hostedDomain: string | undefined
  /** the display name, or `undefined` when the token has none */
  name: string | undefined
}

/** Why an ID token was refused. `keys-unavailable` is ours (Google's key set could not be read). */
export type GoogleRefusal =
  | 'invalid-token'
  | 'expired'
  | 'email-unverified'
  | 'email-not-ascii'
  | 'domain-not-allowed'
  | 'hd-mismatch'
  | 'keys-unavailable'

/** The outcome of checking one ID token: an identity, or why not (data, not an exception). */
export type GoogleVerifyResult =
  | { ok: true; identity: GoogleIdentity }
  /** `detail`: jose's error code or the failing claim, for the log; never token content */
  | { ok: false; reason: GoogleRefusal; detail?: string }

/** Verifies Google ID tokens. */
export type GoogleVerifier = { verify(credential: string): Promise<GoogleVerifyResult> }

/** Settings of `createGoogleVerifier` (from `config.auth`, plus time-outs for tests). */
export type GoogleVerifierOptions = {
  clientId: string
  jwksUrl: string
  /** lower-case domains; the e-mail's domain must be exactly one of them */
  allowedDomains: readonly string[]
  clock: Clock
  /** key set fetch time-out (default 3000 ms; the login function has 15 s in all) */
  jwksTimeoutMs?: number
  /** how long an unknown `kid` does not trigger a refetch (jose's default 30 s) */
  jwksCooldownMs?: number
}

const CLOCK_TOLERANCE_SECONDS = 60
// Google's ID tokens live an hour; google-auth-library refuses `exp` beyond a day.
const MAX_LIFETIME_SECONDS = 86_400
const EMAIL = /^[^\s@]+@([^\s@]+)$/
// Printable ASCII. Lower-casing maps look-alikes onto plain letters (the Kelvin sign U+212A to
// `k`), and so would NFKC: a mailbox spelled with one is another mailbox, never ours to match.
const ASCII = /^[\x21-\x7e]+$/

/** The key set could not be fetched or read: an outage on our side of the check, not a bad token. */
class KeysUnavailable extends Error {
  override readonly name = 'KeysUnavailable'
}

// An unknown `kid` is the token's problem, unless the served set holds no keys at all.
function guardKeySet(remote: ReturnType<typeof createRemoteJWKSet>): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await remote(header, token)
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey && (remote.jwks()?.keys.length ?? 0) > 0) {
        throw err
      }
      if (err instanceof errors.JOSENotSupported) {
        throw err
      }
      // Time-outs, non-200s, bad JSON, malformed or empty sets, network errors.
      throw new KeysUnavailable('Google key set unavailable', { cause: err })
    }
  }
}

function reasonOf(err: errors.JOSEError): { reason: GoogleRefusal; detail: string } {
  if (err instanceof errors.JWTExpired) {
    return { reason: 'expired', detail: err.claim }
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return { reason: 'invalid-token', detail: `${err.code}:${err.claim}` }
  }
  return { reason: 'invalid-token', detail: err.code }
}

function checkIdentity(
  payload: JWTPayload,
  options: GoogleVerifierOptions,
  nowSeconds: number,
): GoogleVerifyResult {
  // jose accepted an `aud` array holding our id; with other audiences in it, the token is ours
  // only if it was issued to us (`azp`): docs/ARCHITECTURE.md, "Authentication".
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== options.clientId) {
    return { ok: false, reason: 'invalid-token', detail: 'azp' }
  }
  if (typeof payload.exp === 'number' && payload.exp - nowSeconds > MAX_LIFETIME_SECONDS) {
    return { ok: false, reason: 'invalid-token', detail: 'exp-too-far' }
  }
  if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 255) {
    return { ok: false, reason: 'invalid-token', detail: 'sub' }
  }
  // Only a verified address identifies the person; Google sends a boolean.
  if (payload.email_verified !== true) {
    return { ok: false, reason: 'email-unverified' }
  }
  const email = typeof payload.email === 'string' ? payload.email : ''
  const domain = EMAIL.exec(email)?.[1]?.toLowerCase()
  if (!domain || email.length > 320) {
    return { ok: false, reason: 'invalid-token', detail: 'email' }
  }
  if (!ASCII.test(email) || (payload.hd !== undefined && !ASCII.test(String(payload.hd)))) {
    return { ok: false, reason: 'email-not-ascii' }
  }
  // Exact match: a suffix test would let `example.com.evil.test` or `evil-example.com` through.
  if (!options.allowedDomains.includes(domain)) {
    return { ok: false, reason: 'domain-not-allowed' }
  }
  const hostedDomain = payload.hd === undefined ? undefined : String(payload.hd).toLowerCase()
  if (hostedDomain !== undefined && hostedDomain !== domain) {
    return { ok: false, reason: 'hd-mismatch' }
  }
  const name =
    typeof payload.name === 'string' && payload.name.trim() !== ''
      ? payload.name.trim().slice(0, 200)
      : undefined
  return { ok: true, identity: { sub: payload.sub, email, domain, hostedDomain, name } }
}

/**
 * Verifies Google ID tokens against Google's key set (fetched on first use and cached by jose;
 * create one verifier per warm container). RS256 only, both issuers, `aud` = our client id (or an
 * array holding it, with `azp` = our client id when it holds others), `exp`/`iat` with 60 s
 * tolerance, then `email_verified`, a plain-ASCII e-mail, its domain and `hd`.
 * A key set that cannot be read is `keys-unavailable`, never a pass.
 * @example const google = createGoogleVerifier({ clientId, jwksUrl, allowedDomains, clock })
 */
export function createGoogleVerifier(options: GoogleVerifierOptions): GoogleVerifier {
  const remote = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: options.jwksTimeoutMs ?? 3000,
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
  })
  const keys = guardKeySet(remote)

  return {
    async verify(credential) {
      const now = options.clock.now()
      let payload: JWTPayload
      try {
        const verified = await jwtVerify(credential, keys, {
          algorithms: ['RS256'],
          issuer: GOOGLE_ISSUERS,
          audience: options.clientId,
          requiredClaims: ['exp', 'iat', 'sub', 'email'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          // Also refuses an `iat` in the future.
          maxTokenAge: MAX_LIFETIME_SECONDS,
          currentDate: now,
        })
        payload = verified.payload
      } catch (err) {
        if (err instanceof KeysUnavailable) {
          const cause = err.cause instanceof Error ? err.cause.name : 'error'
          return { ok: false, reason: 'keys-unavailable', detail: cause }
        }
        if (err instanceof errors.JOSEError) {
          return { ok: false, ...reasonOf(err) }
        }
        throw err
      }
      return checkIdentity(payload, options, Math.floor(now.getTime() / 1000))
    },
  }
}
