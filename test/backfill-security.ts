import { randomUUID } from 'node:crypto'
import { base64url, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { keyIdOf, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#core/auth/tokens.ts'
import type { Database } from '#core/db/client.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { fixedClock } from './clock.ts'
import type { EventOptions } from './events.ts'
import { aUser, bearer, errorOf, tokenFor, type WebCall } from './harness.ts'

/** A backfill function under test, as one test's setup builds it. */
export type BackfillUnderTest = {
  /** Calls the function; each call comes from another client address. */
  call: WebCall
  /** The captured log, as text. */
  logText: () => string
  /** How many jobs of the function's kind exist. */
  jobCount: () => Promise<number>
}

/** What the shared security set needs from a backfill function's test file. */
export type BackfillSecurityOptions = {
  /** Builds the function; `rateLimiter` replaces the in-process one, `env` adds settings. */
  setup: (options?: {
    rateLimiter?: RateLimiter
    env?: Record<string, string>
  }) => BackfillUnderTest | Promise<BackfillUnderTest>
  db: () => Database
  /** The JWT secret and the admin keys the setup configures. */
  jwtSecret: string
  adminKey: string
  otherAdminKey: string
  /** The clock's time in the setup. */
  now: Date
  /** A start the function accepts. */
  start: EventOptions
  /** The rule's number of starts per hour and principal. */
  startsPerHour: number
  /** Secrets of the setup (upstream tokens, keys) that must never reach the log. */
  secrets: () => string[]
}

const ORIGIN = 'https://pm.example.com'

/**
 * The security cases every backfill function must pass (no key, a wrong key, a member's token,
 * expired and forged tokens, every route guarded, the per-principal start limit, a failing limit
 * store, other origins, and a log free of secrets). Call it inside the function's `describe`.
 */
export function describeBackfillSecurity(options: BackfillSecurityOptions): void {
  const { start } = options
  const asAdmin = { 'x-admin-key': options.adminKey }
  const tokenOf = async (role: 'admin' | 'member', at: Date = options.now) =>
    tokenFor(await aUser(options.db(), { role }), {
      secret: options.jwtSecret,
      clock: fixedClock(at),
    })
  const post = (headers: Record<string, string>) => ({
    ...start,
    method: 'POST',
    headers: { ...start.headers, ...headers },
  })

  describe('security', () => {
    it('accepts an admin key and an admin’s bearer token', async () => {
      const fn = await options.setup()
      const byKey = await fn.call(post(asAdmin))
      expect(byKey.statusCode, JSON.stringify(byKey.body)).toBe(202)
      const byToken = await fn.call(post(bearer(await tokenOf('admin'))))
      expect(byToken.statusCode, JSON.stringify(byToken.body)).toBe(409) // accepted, one is active
    })

    it('refuses a start without credentials, with a wrong key, or with a member’s token, queueing nothing', async () => {
      const fn = await options.setup()
      const none = await fn.call(post({}))
      expect(none.statusCode).toBe(401)
      expect(errorOf(none).code).toBe('UNAUTHENTICATED')
      const wrongKey = await fn.call(post({ 'x-admin-key': 'apm_wrong' }))
      expect(wrongKey.statusCode).toBe(401)
      const member = await fn.call(post(bearer(await tokenOf('member'))))
      expect(member.statusCode).toBe(403)
      expect(await fn.jobCount()).toBe(0)
    })

    it('refuses expired, tampered, wrong-algorithm and unsigned tokens', async () => {
      const fn = await options.setup()
      const admin = await aUser(options.db(), { role: 'admin' })
      const expired = await tokenFor(admin, {
        secret: options.jwtSecret,
        clock: fixedClock(new Date(options.now.getTime() - 48 * 3600_000)),
      })
      const valid = await tokenFor(admin, {
        secret: options.jwtSecret,
        clock: fixedClock(options.now),
      })
      const [header, payload, signature] = valid.split('.')
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<
        string,
        unknown
      >
      const forged = base64url.encode(JSON.stringify({ ...claims, sub: randomUUID() }))
      const tampered = `${header}.${forged}.${signature}`
      const flipped = `${valid.slice(0, -4)}${valid.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`
      const seconds = Math.floor(options.now.getTime() / 1000)
      const hs512 = await new SignJWT({ role: 'admin', ver: 0 })
        .setProtectedHeader({ alg: 'HS512', kid: keyIdOf(options.jwtSecret) })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(admin.id)
        .setJti('jti-hs512')
        .setIssuedAt(seconds)
        .setExpirationTime(seconds + 3600)
        .sign(new TextEncoder().encode(options.jwtSecret))
      const unsigned = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`
      for (const token of [expired, tampered, flipped, hs512, unsigned]) {
        const res = await fn.call(post(bearer(token)))
        expect(res.statusCode, token).toBe(401)
        expect(errorOf(res).code).toBe('UNAUTHENTICATED')
      }
      expect(await fn.jobCount()).toBe(0)
    })

    it('guards every route, not only the start', async () => {
      const fn = await options.setup()
      const id = randomUUID()
      for (const event of [
        { method: 'GET' },
        { method: 'GET', path: `/${id}` },
        { method: 'DELETE', path: `/${id}` },
        { method: 'POST', path: `/${id}/resume` },
      ]) {
        expect((await fn.call(event)).statusCode, JSON.stringify(event)).toBe(401)
      }
    })

    it('limits starts per principal: the one past the hour’s rule gets 429 with Retry-After', async () => {
      const fn = await options.setup()
      const statuses: number[] = []
      let last: Awaited<ReturnType<WebCall>> | undefined
      for (let n = 0; n <= options.startsPerHour; n += 1) {
        last = await fn.call(post(asAdmin))
        statuses.push(last.statusCode)
      }
      const repeats = Array.from({ length: options.startsPerHour - 1 }, () => 409)
      expect(statuses).toEqual([202, ...repeats, 429])
      expect(errorOf(last ?? {}).code).toBe('RATE_LIMITED')
      expect(Number(last?.headers['Retry-After'])).toBeGreaterThan(0)
      expect(last?.headers['RateLimit-Limit']).toBe(String(options.startsPerHour))
      // Another principal still has its own starts.
      const other = await fn.call(post({ 'x-admin-key': options.otherAdminKey }))
      expect(other.statusCode).toBe(409)
      const token = await fn.call(post(bearer(await tokenOf('admin'))))
      expect(token.statusCode).toBe(409)
    })

    it('fails closed with 503 when the rate-limit store is down', async () => {
      const down: RateLimiter = {
        consume: async () => ({ kind: 'unavailable', reason: 'timeout' }),
        check: async () => ({ ok: false, store: 'upstash' }),
      }
      const fn = await options.setup({ rateLimiter: down })
      const res = await fn.call(post(asAdmin))
      expect(res.statusCode).toBe(503)
      expect(await fn.jobCount()).toBe(0)
    })

    it('lets only the front end’s origin (and localhost in development) read answers', async () => {
      const fn = await options.setup({ env: { WEB_BASE_URL: ORIGIN } })
      const preflight = (origin: string) =>
        fn.call({ method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } })
      const allowed = await preflight(ORIGIN)
      expect(allowed.headers['Access-Control-Allow-Origin']).toBe(ORIGIN)
      for (const origin of ['https://evil.example', `${ORIGIN}.evil.example`, 'null']) {
        const refused = await preflight(origin)
        expect(refused.headers['Access-Control-Allow-Origin'], origin).toBeUndefined()
        const answered = await fn.call({ ...post(asAdmin), headers: { ...asAdmin, origin } })
        expect(answered.headers['Access-Control-Allow-Origin'], origin).toBeUndefined()
      }
    })

    it('logs no credential, token or secret', async () => {
      const fn = await options.setup()
      const token = await tokenOf('admin')
      await fn.call(post(asAdmin))
      await fn.call(post(bearer(token)))
      await fn.call(post({ 'x-admin-key': 'apm_wrong-key-in-log?' }))
      const log = fn.logText()
      expect(log).toContain('backfill queued')
      for (const secret of [
        options.adminKey,
        token,
        'apm_wrong-key-in-log?',
        options.jwtSecret,
        ...options.secrets(),
      ]) {
        expect(log).not.toContain(secret)
      }
    })
  })
}
