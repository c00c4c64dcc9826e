import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Ratelimit } from '@upstash/ratelimit'
import { Redis as OfficialRedis } from '@upstash/redis'
import { Redis as IoRedis } from 'ioredis'
import { afterEach, assert, describe, expect, it, vi } from 'vitest'
import { systemClock } from '#core/clock.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { testConfig } from '#test/config.ts'
import { thrownAppError } from '#test/errors.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { useUpstashBridge } from '#test/redis.ts'
import { createRateLimiter } from './limiter.ts'
import { enforceLimits, LIMITS, type RateLimiter, rateLimitHeaders } from './rules.ts'
import { createUpstashRateLimiter, toRateLimitDecision } from './upstash.ts'
import { createUpstashRedis } from './upstash-client.ts'

const { redisAvailable, bridge, redisUrl } = useUpstashBridge()

const TIMEOUT_MS = 300
const anIp = () => `203.0.113.${Math.floor(Math.random() * 250)}`

function upstashLimiter(options: { url?: string; token?: string } = {}): RateLimiter {
  const redis = createUpstashRedis({
    url: options.url ?? bridge().url,
    token: options.token ?? bridge().token,
  })
  return createUpstashRateLimiter({ redis, timeoutMs: TIMEOUT_MS })
}

/** A server that accepts connections and drops them at once, counting them. */
async function droppingServer() {
  let connections = 0
  const server = createServer((socket) => {
    connections += 1
    socket.destroy()
  }).listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: async () => {
      server.close()
      await once(server, 'close')
    },
  }
}

/** Waits (real time) until the bridge has answered every request since `before`, and one came. */
async function repliesLanded(before: number): Promise<void> {
  const landed = () => {
    const sent = bridge().requests.slice(before)
    return sent.length > 0 && sent.every((request) => request.status !== undefined)
  }
  for (let n = 0; !landed(); n++) {
    if (n > 1000) {
      throw new Error('the bridge never answered')
    }
    await sleep(10)
  }
}

async function closedPortUrl(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return `http://127.0.0.1:${port}`
}

describe('toRateLimitDecision', () => {
  const now = Date.parse('2026-06-01T12:00:10.000Z')
  const reset = Date.parse('2026-06-01T12:01:00.000Z')

  it('maps allowed and denied results, Retry-After from the reset', () => {
    expect(toRateLimitDecision({ success: true, limit: 10, remaining: 3, reset }, now)).toEqual({
      kind: 'allowed',
      limit: 10,
      remaining: 3,
      resetAt: reset,
    })
    expect(toRateLimitDecision({ success: false, limit: 10, remaining: 0, reset }, now)).toEqual({
      kind: 'denied',
      limit: 10,
      remaining: 0,
      resetAt: reset,
      retryAfterSeconds: 50,
    })
  })

  it('treats a timed-out result, and any result without a reset, as unavailable', () => {
    const timedOut = { success: true, limit: 0, remaining: 0, reset: 0, reason: 'timeout' }
    const decision = toRateLimitDecision(timedOut, now)
    expect(decision).toEqual({ kind: 'unavailable', reason: 'timeout' })
    expect(rateLimitHeaders(decision, now)).toEqual({})
    const noReset = toRateLimitDecision({ success: true, limit: 10, remaining: 9, reset: 0 }, now)
    expect(noReset).toMatchObject({ kind: 'unavailable', reason: 'error' })
  })
})

describe.skipIf(!redisAvailable)('Upstash rate limiter failures (through the bridge)', () => {
  afterEach(() => {
    bridge().setDelay(0)
    bridge().failNext(500, 0)
  })

  describe('happy', () => {
    it('checks the store with a ping for the deep health check', async () => {
      expect(await upstashLimiter().check()).toEqual({ ok: true, store: 'upstash' })
      bridge().failNext(500)
      expect(await upstashLimiter().check()).toEqual({ ok: false, store: 'upstash' })
      bridge().setDelay(TIMEOUT_MS + 200)
      expect(await upstashLimiter().check()).toEqual({ ok: false, store: 'upstash' })
      const closed = await upstashLimiter({ url: await closedPortUrl() }).check()
      expect(closed.ok).toBe(false)
    })

    it('sends only the sliding-window script: no analytics, no deny list', async () => {
      // Windows follow Date.now(): pin it (Date only, the timers stay real).
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(new Date('2026-06-01T12:00:30.000Z'))
      try {
        const before = bridge().requests.length
        const key = `ip:${anIp()}`
        const decision = await upstashLimiter().consume(LIMITS.login, key)
        expect(decision.kind).toBe('allowed')
        await sleep(100) // analytics, were they on, would be written after the answer
        const commands = bridge()
          .requests.slice(before)
          .flatMap((request) => request.commands)
        expect(commands.length).toBeGreaterThan(0)
        // [evalsha|eval, sha|script, numkeys, ...keys, ...args]: only this key's two windows.
        const window = Math.floor(Date.parse('2026-06-01T12:00:30.000Z') / 60_000)
        for (const command of commands) {
          expect(['evalsha', 'eval']).toContain(String(command[0]).toLowerCase())
          expect(command.slice(3, 3 + Number(command[2]))).toEqual([
            `agent-pm:rl:login:${key}:${window}`,
            `agent-pm:rl:login:${key}:${window - 1}`,
          ])
        }
      } finally {
        vi.useRealTimers()
      }
    })

    it('decides exactly as @upstash/ratelimit does, request by request, across windows', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      try {
        const official = new Ratelimit({
          redis: new OfficialRedis({
            url: bridge().url,
            token: bridge().token,
            enableTelemetry: false,
          }),
          limiter: Ratelimit.slidingWindow(3, '10 s'),
          prefix: 'official',
          ephemeralCache: false,
          analytics: false,
        })
        const ours = createUpstashRateLimiter({
          redis: createUpstashRedis({ url: bridge().url, token: bridge().token }),
          timeoutMs: 5000,
          prefix: 'ours',
        })
        const rule = { name: 'parity', limit: 3, windowSeconds: 10 }
        const start = Date.parse('2026-06-01T12:00:07.000Z')
        // Bursts at the end of one window and through the next, where the previous one still weighs.
        const offsets = [
          0, 500, 1000, 1500, 3000, 3500, 6000, 8000, 9000, 9500, 12_000, 14_500, 21_000,
        ]
        const theirs: unknown[] = []
        const mine: unknown[] = []
        for (const offset of offsets) {
          vi.setSystemTime(start + offset)
          const result = await official.limit('client')
          theirs.push({ success: result.success, remaining: result.remaining, reset: result.reset })
          const decision = await ours.consume(rule, 'client')
          assert(decision.kind !== 'unavailable', JSON.stringify(decision))
          mine.push({
            success: decision.kind === 'allowed',
            remaining: decision.remaining,
            reset: decision.resetAt,
          })
        }
        expect(mine).toEqual(theirs)
        expect(mine.map((d) => (d as { success: boolean }).success)).toContain(false)
      } finally {
        vi.useRealTimers()
      }
    })

    it('sends the script by its SHA-1, and in full only when Redis does not know it yet', async () => {
      const redis = new IoRedis(redisUrl(), { maxRetriesPerRequest: 0 })
      try {
        await redis.script('FLUSH')
      } finally {
        redis.disconnect()
      }
      const before = bridge().requests.length
      const limiter = upstashLimiter()
      await limiter.consume(LIMITS.login, `ip:${anIp()}`)
      await limiter.consume(LIMITS.login, `ip:${anIp()}`)
      const sent = bridge().requests.slice(before)
      expect(sent.map((request) => [String(request.commands[0]?.[0]), request.status])).toEqual([
        ['evalsha', 400],
        ['eval', 200],
        ['evalsha', 200],
      ])
      expect(sent[0]?.body).toEqual({ error: expect.stringContaining('NOSCRIPT') })
    })

    it('sends the checks made at once as one pipeline, each caller getting its own answer', async () => {
      const redis = createUpstashRedis({ url: bridge().url, token: bridge().token })
      const limiter = createUpstashRateLimiter({ redis, timeoutMs: TIMEOUT_MS })
      const ip = anIp()
      await limiter.consume(LIMITS.login, `ip:${ip}`) // the script is known from here on
      const before = bridge().requests.length
      const [decisions, pong, unknownScript] = await Promise.all([
        Promise.all(Array.from({ length: 12 }, () => limiter.consume(LIMITS.login, `ip:${ip}`))),
        redis.ping(),
        redis.evalsha('0'.repeat(40), [], []).catch((err: unknown) => err),
      ])
      const sent = bridge().requests.slice(before)
      expect(sent.map((request) => [request.path, request.commands.length])).toEqual([
        ['/pipeline', 14],
      ])
      // 10 a minute: 1 before, 9 allowed here, then refusals, in the order asked.
      expect(decisions.map((d) => d.kind)).toEqual([
        ...Array.from({ length: 9 }, () => 'allowed'),
        'denied',
        'denied',
        'denied',
      ])
      expect(pong).toBe('PONG')
      expect(String(unknownScript)).toContain('NOSCRIPT')
    })

    it('is what createRateLimiter builds when Upstash is configured', async () => {
      const { log, lines } = captureLog()
      const config = testConfig({
        UPSTASH_REDIS_REST_URL: bridge().url,
        UPSTASH_REDIS_REST_TOKEN: bridge().token,
      })
      const limiter = createRateLimiter(config, { log, clock: systemClock })
      const before = bridge().requests.length
      const key = `ip:${anIp()}:${randomUUID()}`
      await limiter.consume(LIMITS.login, key)
      expect(bridge().requests.length).toBeGreaterThan(before)
      expect(JSON.stringify(bridge().requests.slice(before))).toContain(key)
      expect(lines.filter((line) => line.level === 'warn')).toEqual([])
    })

    it('falls back to the in-process limiter, with a warning, without Upstash settings', async () => {
      const { log, lines } = captureLog()
      const before = bridge().requests.length
      const limiter = createRateLimiter(testConfig(), { log, clock: systemClock })
      expect((await limiter.consume(LIMITS.login, `ip:${anIp()}`)).kind).toBe('allowed')
      expect(bridge().requests.length).toBe(before)
      expect(lines).toEqual([
        expect.objectContaining({ level: 'warn', msg: expect.stringContaining('UPSTASH') }),
      ])
    })
  })

  describe('errors', () => {
    it('reports an error answer from the store as unavailable, keeping the cause', async () => {
      bridge().failNext(500)
      const decision = await upstashLimiter().consume(LIMITS.login, `ip:${anIp()}`)
      assert(decision.kind === 'unavailable', JSON.stringify(decision))
      expect(decision.reason).toBe('error')
      expect(String(decision.cause)).toContain('injected failure (500)')
    })

    it('reports a closed port as unavailable, an error before the timeout', async () => {
      const limiter = upstashLimiter({ url: await closedPortUrl() })
      const decision = await limiter.consume(LIMITS.login, `ip:${anIp()}`)
      // Had it waited out the timeout, the reason would be `timeout`.
      expect(decision).toMatchObject({ kind: 'unavailable', reason: 'error' })
    })

    it('retries a dropped connection once, then reports unavailable', async () => {
      const dropping = await droppingServer()
      try {
        const decision = await upstashLimiter({ url: dropping.url }).consume(
          LIMITS.login,
          `ip:${anIp()}`,
        )
        expect(decision).toMatchObject({ kind: 'unavailable', reason: 'error' })
        expect(dropping.connections()).toBe(2)
      } finally {
        await dropping.close()
      }
    })

    it('reports a slow store as unavailable with reason timeout, never as allowed', async () => {
      bridge().setDelay(TIMEOUT_MS + 300)
      const before = bridge().requests.length
      const decision = await upstashLimiter().consume(LIMITS.login, `ip:${anIp()}`)
      expect(decision).toEqual({ kind: 'unavailable', reason: 'timeout' })
      // Decided while the store had not answered yet.
      const sent = bridge().requests.slice(before)
      expect(sent.filter((request) => request.status !== undefined)).toEqual([])
      await repliesLanded(before)
    })

    const troubles = ['error', 'timeout'] as const
    function cause(trouble: (typeof troubles)[number]) {
      if (trouble === 'error') {
        bridge().failNext(500, 5)
      } else {
        bridge().setDelay(TIMEOUT_MS + 200)
      }
    }

    it.each(troubles)('fails closed with 503 when the store has a %s', async (trouble) => {
      const { log, lines } = captureLog()
      cause(trouble)
      const deps = { rateLimiter: upstashLimiter(), log, now: Date.now }
      const err = await thrownAppError(
        enforceLimits(deps, [LIMITS.login], `ip:${anIp()}`, { failClosed: true }),
      )
      expect(err.status).toBe(503)
      expect(err.code).toBe('UNAVAILABLE')
      expect(err.headers).toEqual({ 'Retry-After': '30' })
      expect(err.details).toEqual({ rules: 'login', reason: trouble })
      expect(lines).toEqual([]) // logged once, by webEntry, with the request id
    })

    it.each(troubles)('fails open with a warning when the store has a %s', async (trouble) => {
      const { log, lines } = captureLog()
      cause(trouble)
      const deps = { rateLimiter: upstashLimiter(), log, now: Date.now }
      const rules = [LIMITS.clientHourly, LIMITS.clientDaily]
      expect(await enforceLimits(deps, rules, `ip:${anIp()}`, { failClosed: false })).toEqual({})
      expect(lines).toEqual([
        expect.objectContaining({
          level: 'warn',
          reason: trouble,
          rules: 'client-hour, client-day',
        }),
      ])
    })
  })

  describe('security', () => {
    it('answers 503 on guarded routes and serves reads when the store fails, logging no secret', async () => {
      const { log, lines, text } = captureLog()
      const token = bridge().token
      const rateLimiter = upstashLimiter()
      const services = () => ({ config: testConfig(), log, clock: systemClock, rateLimiter })
      const read = webEntry({
        services,
        handler: () => async () => ({ status: 200, body: { ok: true } }),
      })
      const signIn = webEntry({
        services,
        handler: (deps) => async (req) => {
          const now = () => deps.clock.now().getTime()
          const headers = await enforceLimits(
            { ...deps, now },
            [LIMITS.login],
            `ip:${req.clientIp}`,
            { failClosed: true },
          )
          return { status: 200, headers, body: { signedIn: true } }
        },
      })
      const ip = '198.51.100.213'

      bridge().failNext(500, 10)
      const readRes = await read(aWebEvent({ ip }), aContext())
      expect(readRes.statusCode, JSON.stringify(readRes.body)).toBe(200)
      expect(readRes.headers).not.toHaveProperty('RateLimit-Reset')

      const signInRes = await signIn(aWebEvent({ method: 'POST', ip, body: {} }), aContext())
      expect(signInRes.statusCode).toBe(503)
      expect(signInRes.headers['Retry-After']).toBe('30')
      expect(signInRes.body).toEqual({
        error: {
          code: 'UNAVAILABLE',
          message: 'Rate limiting is unavailable, so this request is refused; try again shortly.',
          requestId: signInRes.headers['X-Request-Id'],
        },
      })

      const failed = lines.filter((line) => line.msg === 'request failed')
      expect(failed).toHaveLength(1)
      expect(failed[0]?.requestId).toBe(signInRes.headers['X-Request-Id'])
      expect(lines.filter((line) => line.level === 'warn').length).toBeGreaterThan(0)
      expect(text()).toContain('injected failure (500)')
      // The client's error message quotes the command (keys hold the address); never the token.
      expect(text()).not.toContain(token)
      expect(text()).not.toContain(ip)
      expect(text()).not.toContain('evalsha')
    })

    it('keeps a wrong token out of the log', async () => {
      const { log, text } = captureLog()
      const wrongToken = `wrong-${randomUUID()}`
      const deps = { rateLimiter: upstashLimiter({ token: wrongToken }), log, now: Date.now }
      await enforceLimits(deps, [LIMITS.clientHourly], `ip:${anIp()}`, { failClosed: false })
      expect(text()).toContain('Unauthorized')
      expect(text()).not.toContain(wrongToken)
      expect(text()).not.toContain(bridge().token)
    })
  })
})
