import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type Clock, systemClock } from '#core/clock.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { JIRA_START_LIMIT } from '#pipelines/jira/inputs.ts'
import { TEMPO_START_LIMIT } from '#pipelines/tempo/inputs.ts'
import { fixedClock } from '#test/clock.ts'
import { testConfig } from '#test/config.ts'
import { thrownAppError } from '#test/errors.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { useUpstashBridge } from '#test/redis.ts'
import { createMemoryRateLimiter } from './memory.ts'
import {
  enforceLimits,
  LIMITS,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitRule,
} from './rules.ts'
import { createUpstashRateLimiter } from './upstash.ts'
import { createUpstashRedis } from './upstash-client.ts'

const { redisAvailable, bridge } = useUpstashBridge()

// Whole hours (so whole minutes and, in UTC, whole days): window arithmetic starts at a boundary.
const START = '2026-06-01T12:00:00.000Z'
const at = (iso: string) => new Date(iso).getTime()

/** A limiter under test and the clock its windows follow. */
type Harness = { limiter: RateLimiter; clock: Clock; setTime(iso: string): void }

// Redis keeps counts between tests of a file, so every test counts under keys of its own.
const aKey = (kind = 'ip') => `${kind}:${randomUUID()}`
const aRule = (limit: number, windowSeconds: number): RateLimitRule => ({
  name: `t-${randomUUID().slice(0, 8)}`,
  limit,
  windowSeconds,
})

async function consumeTimes(limiter: RateLimiter, rule: RateLimitRule, key: string, n: number) {
  const decisions: RateLimitDecision[] = []
  for (let i = 0; i < n; i++) {
    decisions.push(await limiter.consume(rule, key))
  }
  return decisions
}

const kinds = (decisions: RateLimitDecision[]) => decisions.map((decision) => decision.kind)

/** The behaviour every limiter must have; run below for the in-process one and for Upstash. */
function behavesAsTheSlidingWindowLimiter(setup: () => Harness) {
  let h: Harness
  beforeEach(() => {
    h = setup()
    h.setTime(START)
  })
  const deps = () => ({
    rateLimiter: h.limiter,
    log: captureLog().log,
    now: () => h.clock.now().getTime(),
  })

  describe('happy', () => {
    it('allows exactly the limit, counting down, then denies until the window ends', async () => {
      h.setTime('2026-06-01T12:00:10.000Z')
      const rule = aRule(5, 60)
      const decisions = await consumeTimes(h.limiter, rule, aKey(), 6)
      const resetAt = at('2026-06-01T12:01:00.000Z')
      expect(decisions.slice(0, 5)).toEqual(
        [4, 3, 2, 1, 0].map((remaining) => ({ kind: 'allowed', limit: 5, remaining, resetAt })),
      )
      expect(decisions[5]).toEqual({
        kind: 'denied',
        limit: 5,
        remaining: 0,
        resetAt,
        retryAfterSeconds: 50,
      })
    })

    it('slides: the previous window counts by the share still in view', async () => {
      const rule = aRule(10, 60)
      const key = aKey()
      expect(kinds(await consumeTimes(h.limiter, rule, key, 11))).toEqual([
        ...Array(10).fill('allowed'),
        'denied',
      ])
      // At the boundary all of the previous window is still in view.
      h.setTime('2026-06-01T12:01:00.000Z')
      expect(await h.limiter.consume(rule, key)).toMatchObject({
        kind: 'denied',
        retryAfterSeconds: 60,
      })
      // Half-way through, half of it (5) counts: exactly 5 more pass.
      h.setTime('2026-06-01T12:01:30.000Z')
      expect(kinds(await consumeTimes(h.limiter, rule, key, 6))).toEqual([
        ...Array(5).fill('allowed'),
        'denied',
      ])
      // Two windows on, nothing counts.
      h.setTime('2026-06-01T12:03:00.000Z')
      expect(kinds(await consumeTimes(h.limiter, rule, key, 11))).toEqual([
        ...Array(10).fill('allowed'),
        'denied',
      ])
    })
  })

  describe('security', () => {
    it('lets exactly 10 of 50 concurrent sign-ins from one address through', async () => {
      const key = aKey()
      const decisions = await Promise.all(
        Array.from({ length: 50 }, () => h.limiter.consume(LIMITS.login, key)),
      )
      const allowed = decisions.filter((decision) => decision.kind === 'allowed')
      expect(allowed).toHaveLength(10)
      expect(allowed.map((decision) => decision.remaining).sort((a, b) => a - b)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ])
      expect(decisions.filter((decision) => decision.kind === 'denied')).toHaveLength(40)
    })

    it('counts each client address separately', async () => {
      const [mallory, alice] = [aKey(), aKey()]
      await consumeTimes(h.limiter, LIMITS.login, mallory, 10)
      expect((await h.limiter.consume(LIMITS.login, mallory)).kind).toBe('denied')
      expect(await h.limiter.consume(LIMITS.login, alice)).toMatchObject({
        kind: 'allowed',
        remaining: 9,
      })
    })

    it('counts each principal and each rule separately (Jira 3/h, Tempo 5/h)', async () => {
      const [alice, bob] = [aKey('user'), aKey('user')]
      expect(kinds(await consumeTimes(h.limiter, JIRA_START_LIMIT, alice, 4))).toEqual([
        'allowed',
        'allowed',
        'allowed',
        'denied',
      ])
      expect(await h.limiter.consume(JIRA_START_LIMIT, bob)).toMatchObject({
        kind: 'allowed',
        remaining: 2,
      })
      expect(kinds(await consumeTimes(h.limiter, TEMPO_START_LIMIT, alice, 6))).toEqual([
        ...Array(5).fill('allowed'),
        'denied',
      ])
    })
  })

  describe('enforceLimits', () => {
    it('answers the tightest rule in headers, then 429 with the longest Retry-After', async () => {
      h.setTime('2026-06-01T12:00:10.000Z')
      const perMinute = aRule(2, 60)
      const perHour = aRule(3, 3600)
      const perDay = aRule(100, 86_400)
      const key = aKey()
      // Neither the tightest nor the longest-waiting rule comes first.
      const rules = [perDay, perMinute, perHour]
      const enforce = () => enforceLimits(deps(), rules, key, { failClosed: true })

      expect(await enforce()).toEqual({
        'RateLimit-Limit': '2',
        'RateLimit-Remaining': '1',
        'RateLimit-Reset': '50',
      })
      await enforce()
      // The minute rule refuses; the hour rule still counts the attempt (its third).
      const minute = await thrownAppError(enforce())
      expect(minute.status).toBe(429)
      expect(minute.code).toBe('RATE_LIMITED')
      expect(minute.details).toEqual({ retryAfterSeconds: 50 })
      expect(minute.headers).toEqual({
        'Retry-After': '50',
        'RateLimit-Limit': '2',
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': '50',
      })
      // Both refuse: waiting for the minute alone would not help, so the hour decides.
      const both = await thrownAppError(enforce())
      expect(both.headers).toMatchObject({ 'Retry-After': '3590', 'RateLimit-Limit': '3' })
    })

    it('answers JSON 429 with Retry-After and RateLimit-* through webEntry, exposed by CORS', async () => {
      const config = testConfig({ WEB_BASE_URL: 'https://app.example.com' })
      const { log } = captureLog()
      const main = webEntry({
        services: () => ({ config, log, clock: h.clock, rateLimiter: h.limiter }),
        handler: () => async () => ({ status: 200, body: { ok: true } }),
      })
      const ip = `198.51.100.${Math.floor(Math.random() * 250)}`
      // The client rotates what it writes into X-Forwarded-For; the edge appends what it saw.
      const request = (n: number) =>
        main(
          aWebEvent({
            ip: `10.0.0.${n % 250}, 192.0.2.${n % 250}, ${ip}`,
            headers: { origin: 'https://app.example.com' },
          }),
          aContext(),
        )
      const first = await request(0)
      expect(first.statusCode, JSON.stringify(first.body)).toBe(200)
      expect(first.headers).toMatchObject({
        'RateLimit-Limit': '200',
        'RateLimit-Remaining': '199',
        'RateLimit-Reset': '3600',
      })
      for (let n = 1; n < 200; n++) {
        const res = await request(n)
        expect(res.statusCode, `request ${n}`).toBe(200)
      }
      const refused = await request(200)
      expect(refused.statusCode).toBe(429)
      expect(refused.body).toEqual({
        error: {
          code: 'RATE_LIMITED',
          message: 'Too many requests; try again later.',
          requestId: refused.headers['X-Request-Id'],
          details: { retryAfterSeconds: 3600 },
        },
      })
      expect(refused.headers).toMatchObject({
        'Content-Type': 'application/json',
        'Retry-After': '3600',
        'RateLimit-Limit': '200',
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': '3600',
        'Access-Control-Allow-Origin': 'https://app.example.com',
      })
      const exposed = refused.headers['Access-Control-Expose-Headers']?.split(/,\s*/)
      expect(exposed).toEqual(
        expect.arrayContaining([
          'Retry-After',
          'RateLimit-Limit',
          'RateLimit-Remaining',
          'RateLimit-Reset',
        ]),
      )
    })
  })
}

describe('in-process rate limiter', () => {
  behavesAsTheSlidingWindowLimiter(() => {
    const clock = fixedClock(START)
    return { limiter: createMemoryRateLimiter(clock), clock, setTime: (iso) => clock.set(iso) }
  })

  it('allows exactly 200/hour and 1000/day per address, 3600/hour and 40,000/day per principal, 10/minute sign-ins', async () => {
    const clock = fixedClock(START)
    const limiter = createMemoryRateLimiter(clock)
    const allowedOf = async (rule: RateLimitRule, n: number) =>
      kinds(await consumeTimes(limiter, rule, aKey(), n)).filter((kind) => kind === 'allowed')
        .length
    expect(await allowedOf(LIMITS.clientHourly, 201)).toBe(200)
    expect(await allowedOf(LIMITS.clientDaily, 1001)).toBe(1000)
    expect(await allowedOf(LIMITS.principalHourly, 3601)).toBe(3600)
    expect(await allowedOf(LIMITS.principalDaily, 40_001)).toBe(40_000)
    expect(await allowedOf(LIMITS.login, 11)).toBe(10)
    expect(
      [
        LIMITS.clientHourly,
        LIMITS.principalHourly,
        LIMITS.clientDaily,
        LIMITS.principalDaily,
        LIMITS.login,
      ].map((rule) => rule.windowSeconds),
    ).toEqual([3600, 3600, 86_400, 86_400, 60])
  })

  it('sweeps out ended windows and keeps counting live ones', async () => {
    const clock = fixedClock(START)
    const limiter = createMemoryRateLimiter(clock, { sweepAt: 3 })
    const rule = aRule(1, 60)
    await limiter.consume(rule, 'ip:stale')
    clock.advance(120_000) // two windows: nothing of 'ip:stale' is in view any more
    await limiter.consume(rule, 'ip:a')
    await limiter.consume(rule, 'ip:b') // the third key: sweeps
    await limiter.consume(rule, 'ip:c')
    expect(kinds(await consumeTimes(limiter, rule, 'ip:a', 1))).toEqual(['denied'])
    expect(kinds(await consumeTimes(limiter, rule, 'ip:stale', 2))).toEqual(['allowed', 'denied'])
  })
})

describe.skipIf(!redisAvailable)('Upstash rate limiter (through the bridge)', () => {
  // @upstash/ratelimit reads Date.now() and has no clock option: fake Date only, never the
  // timers its request timeout and the HTTP client rely on.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  behavesAsTheSlidingWindowLimiter(() => {
    const redis = createUpstashRedis({ url: bridge().url, token: bridge().token })
    return {
      limiter: createUpstashRateLimiter({ redis, timeoutMs: 5000 }),
      clock: systemClock,
      setTime: (iso) => vi.setSystemTime(new Date(iso)),
    }
  })
})
