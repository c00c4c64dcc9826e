import { randomBytes } from 'node:crypto'
import * as v from 'valibot'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { type Clock, systemClock } from '#core/clock.ts'
import type { HttpHandler } from '#core/http/types.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { createUpstashRateLimiter } from '#core/rate-limit/upstash.ts'
import { createUpstashRedis } from '#core/rate-limit/upstash-client.ts'
import { parseInput } from '#core/validation/parse.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent, type EventOptions } from '#test/events.ts'
import { aUser, bearer, errorOf, tokenFor } from '#test/harness.ts'
import { useUpstashBridge } from '#test/redis.ts'
import { testServices } from '#test/services.ts'
import { webEntry } from './web-entry.ts'

const getDatabase = useTestDatabase()
const { redisAvailable, bridge } = useUpstashBridge()

const SECRET = 'web-entry-test-secret-key-at-least-32-bytes'
const ADMIN_KEY = 'apm_web-entry-test-admin-key-0123456789abcdef'
const START = '2026-06-01T12:00:00.000Z'

const ok: HttpHandler = async () => ({ status: 200, body: { ok: true } })

/** A function over the file's database whose limits follow `clock`, answering `handler`. */
function aFunction(
  options: { clock?: Clock; rateLimiter?: RateLimiter; handler?: HttpHandler } = {},
) {
  const fixed = fixedClock(START)
  const clock = options.clock ?? fixed
  const services = testServices({
    database: getDatabase(),
    clock,
    env: { JWT_SECRET_KEY: SECRET, ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY) },
    rateLimiter: options.rateLimiter ?? createMemoryRateLimiter(clock),
  })
  const main = webEntry({ services: () => services, handler: () => options.handler ?? ok })
  const call = (event: EventOptions = {}) => main(aWebEvent(event), aContext())
  // The fixed clock to move, unless the limits follow another one.
  return { clock: fixed, services, call }
}

// Each test counts from an address of its own.
const anAddress = () => `198.51.100.${randomBytes(1)[0]}`
const aMadeUpToken = () =>
  ['eyJhbGciOiJIUzI1NiJ9', randomBytes(24).toString('base64url'), 'c2ln'].join('.')

async function signedIn(clock: Clock) {
  const user = await aUser(getDatabase().db, { role: 'member' })
  return bearer(await tokenFor(user, { secret: SECRET, clock }))
}

describe('web entry', () => {
  describe('happy', () => {
    it("answers with the activation id as ours, the client's request id only beside it", async () => {
      const { services } = aFunction()
      const main = webEntry({
        services: () => services,
        handler: () => async () => ({ status: 404, body: { never: 'reached' } }),
      })
      const context = { ...aContext(), activationId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' }
      const sent = aWebEvent({
        method: 'POST',
        headers: { 'x-request-id': 'client-chosen-0001' },
        rawBody: '{',
      })
      const res = await main(sent, context)
      expect(res.statusCode).toBe(400)
      expect(res.headers['X-Request-Id']).toBe(context.activationId)
      expect(res.headers['X-Client-Request-Id']).toBe('client-chosen-0001')
      expect(errorOf(res).requestId).toBe(context.activationId)
    })

    it('counts a signed-in caller per principal: 3600 an hour, whatever the address', async () => {
      const { clock, call } = aFunction()
      const headers = await signedIn(clock)
      const first = await call({ headers, ip: anAddress() })
      expect(first.headers).toMatchObject({
        'RateLimit-Limit': '3600',
        'RateLimit-Remaining': '3599',
      })
      const statuses = new Map<number, number>()
      for (let n = 1; n < 3600; n++) {
        const res = await call({ headers, ip: anAddress() })
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      }
      expect(Object.fromEntries(statuses)).toEqual({ 200: 3599 })
      const refused = await call({ headers, ip: anAddress() })
      expect(refused.statusCode).toBe(429)
      expect(refused.headers['RateLimit-Limit']).toBe('3600')
    })

    it('never answers 429 to a page polling a job every 2 s through a 10-hour backfill', async () => {
      const { clock, call } = aFunction()
      const headers = await signedIn(clock)
      const ip = anAddress()
      const statuses = new Map<number, number>()
      // 10 hours at one request per 2 s: 18,000 requests.
      for (let n = 0; n < 18_000; n++) {
        const res = await call({ headers, ip, path: '/00000000-0000-4000-8000-000000000000' })
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        clock.advance(2000)
      }
      expect(Object.fromEntries(statuses)).toEqual({ 200: 18_000 })
      expect(clock.now().toISOString()).toBe('2026-06-01T22:00:00.000Z')
    })
  })

  describe('security', () => {
    it('answers an anonymous client 429 at its 201st request in an hour', async () => {
      const { call, clock } = aFunction()
      const ip = anAddress()
      const statuses: number[] = []
      for (let n = 0; n < 201; n++) {
        statuses.push((await call({ ip })).statusCode)
        clock.advance(1000)
      }
      expect(statuses).toEqual([...Array(200).fill(200), 429])
    })

    it('counts made-up bearer tokens and admin keys against the address, like no credential', async () => {
      const { call, clock } = aFunction()
      const forged = await tokenFor(await aUser(getDatabase().db), {
        secret: 'another-secret-that-is-also-32-bytes-long',
        clock,
      })
      const credentials = [
        () => ({ authorization: `Bearer ${aMadeUpToken()}` }),
        () => ({ authorization: `Bearer ${forged}` }),
        () => ({ authorization: 'Basic dXNlcjpwYXNz' }),
        () => ({ 'x-admin-key': `apm_${randomBytes(16).toString('hex')}` }),
        () => ({ 'x-monitor-token': randomBytes(16).toString('hex') }),
      ]
      const ip = anAddress()
      const limits: string[] = []
      for (let n = 0; n < 200; n++) {
        const headers = credentials[n % credentials.length]?.() ?? {}
        const res = await call({ ip, headers })
        limits.push(`${res.statusCode} ${res.headers['RateLimit-Limit']}`)
      }
      expect(new Set(limits)).toEqual(new Set(['200 200']))
      // Nor does a valid admin key beside a made-up one buy anything.
      const refused = await call({
        ip,
        headers: { 'x-admin-key': ADMIN_KEY, authorization: `Bearer ${aMadeUpToken()}` },
      })
      expect(refused.statusCode).toBe(429)
    })

    it('counts a valid credential against its principal, not the exhausted address', async () => {
      const { call, clock } = aFunction()
      const ip = anAddress()
      for (let n = 0; n < 200; n++) {
        await call({ ip })
      }
      expect((await call({ ip })).statusCode).toBe(429)
      const asUser = await call({ ip, headers: await signedIn(clock) })
      expect(asUser.statusCode, JSON.stringify(asUser.body)).toBe(200)
      const asAdminKey = await call({ ip, headers: { 'x-admin-key': ADMIN_KEY } })
      expect(asAdminKey.statusCode).toBe(200)
      expect(asAdminKey.headers['RateLimit-Limit']).toBe('3600')
    })

    it('counts requests whose body fails to parse before parsing it', async () => {
      const { call } = aFunction()
      const ip = anAddress()
      const answers: string[] = []
      for (let n = 0; n < 250; n++) {
        const res = await call({ method: 'POST', ip, rawBody: `{"malformed": ${n}` })
        answers.push(`${res.statusCode} ${res.headers['RateLimit-Remaining']}`)
      }
      expect(answers.slice(0, 200)).toEqual(Array.from({ length: 200 }, (_, n) => `400 ${199 - n}`))
      expect(answers.slice(200)).toEqual(Array(50).fill('429 0'))
    })

    it('counts oversized and wrongly typed bodies, raw and merged, before reading them', async () => {
      const { services } = aFunction()
      const main = webEntry({ services: () => services, handler: () => ok })
      const ip = anAddress()
      const big = 'x'.repeat(1_048_577)
      const raw = aWebEvent({ method: 'POST', ip, rawBody: big })
      const text = aWebEvent({
        method: 'POST',
        ip,
        rawBody: 'a=1',
        headers: { 'content-type': 'text/plain' },
      })
      const merged = {
        http: { method: 'post', path: '', headers: { 'x-forwarded-for': ip } },
        pad: big,
      }
      const statuses: number[] = []
      for (let n = 0; n < 201; n++) {
        const event = [raw, text, merged][n % 3]
        statuses.push((await main(event, aContext())).statusCode)
      }
      expect(statuses.slice(0, 6)).toEqual([413, 415, 413, 413, 415, 413])
      expect(statuses[200]).toBe(429)
    })

    it('refuses __proto__ and constructor in the query as unknown fields, not by dropping them', async () => {
      const strict = v.strictObject({ days: v.optional(v.string()) })
      const { call } = aFunction({
        handler: async (req) => ({ status: 200, body: parseInput(strict, { ...req.query }) }),
      })
      for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
        const res = await call({ query: `days=7&${key}=x`, ip: anAddress() })
        expect(res.statusCode, key).toBe(400)
        expect(errorOf(res).details).toEqual({ issues: [{ path: key, message: 'Unknown field.' }] })
      }
      expect((await call({ query: 'days=7', ip: anAddress() })).body).toEqual({ days: '7' })
    })
  })
})

describe.skipIf(!redisAvailable)('web entry limits on Upstash (through the bridge)', () => {
  // @upstash/ratelimit reads Date.now(): fake Date only, never the timers its requests need.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const upstashFunction = () => {
    const redis = createUpstashRedis({ url: bridge().url, token: bridge().token })
    const rateLimiter = createUpstashRateLimiter({
      redis,
      timeoutMs: 5000,
      prefix: `rl-${randomBytes(4).toString('hex')}`,
    })
    return aFunction({ clock: systemClock, rateLimiter })
  }

  it('never answers 429 to a page polling every 2 s for an hour across an hour boundary', async () => {
    vi.setSystemTime(new Date('2026-06-01T12:30:00.000Z'))
    const { call } = upstashFunction()
    const headers = await signedIn(systemClock)
    const statuses = new Map<number, number>()
    // 1800 requests from 12:30 to 13:30: the sliding window weighs the previous hour in.
    for (let n = 0; n < 1800; n++) {
      const res = await call({ headers })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      vi.setSystemTime(Date.now() + 2000)
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 1800 })
  }, 120_000)

  it('answers an anonymous client 429 at its 201st request in an hour', async () => {
    vi.setSystemTime(new Date(START))
    const { call } = upstashFunction()
    const ip = anAddress()
    const statuses: number[] = []
    for (let n = 0; n < 201; n++) {
      statuses.push(
        (await call({ ip, headers: { authorization: `Bearer ${aMadeUpToken()}` } })).statusCode,
      )
      vi.setSystemTime(Date.now() + 1000)
    }
    expect(statuses).toEqual([...Array(200).fill(200), 429])
  }, 60_000)
})
