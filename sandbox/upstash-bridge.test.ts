import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Ratelimit } from '@upstash/ratelimit'
import { Redis } from '@upstash/redis'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { useUpstashBridge } from '#test/redis.ts'
import { startUpstashBridge, type UpstashBridge } from './upstash-bridge.ts'

const { redisAvailable, bridge, redisUrl } = useUpstashBridge()

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex')
// Tests share this file's database, so every key is unique to its test.
const key = (name: string) => `${name}:${randomUUID()}`

function clientFor(target: UpstashBridge, token = target.token) {
  return new Redis({ url: target.url, token, retry: { retries: 0 }, enableTelemetry: false })
}

/** Raw REST call, so tests see exactly what the bridge sends (no client decoding). */
async function call(
  target: UpstashBridge,
  body: unknown,
  init: { path?: string; base64?: boolean; method?: string } = {},
) {
  const headers: Record<string, string> = { authorization: `Bearer ${target.token}` }
  if (init.base64) {
    headers['upstash-encoding'] = 'base64'
  }
  const res = await fetch(`${target.url}${init.path ?? '/'}`, {
    method: init.method ?? 'POST',
    headers,
    ...(init.method === 'GET'
      ? {}
      : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as unknown }
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

function limiterFor(target: UpstashBridge, limiter: Ratelimit['limiter'], timeout = 5_000) {
  return new Ratelimit({
    redis: clientFor(target),
    limiter,
    prefix: key('rl'),
    ephemeralCache: false,
    analytics: false,
    enableProtection: false,
    timeout,
  })
}

async function limitFiveTimes(limiter: Ratelimit) {
  const results = []
  for (let n = 0; n < 5; n += 1) {
    results.push(await limiter.limit('caller-1'))
  }
  return results
}

describe.skipIf(!redisAvailable)('upstash bridge', () => {
  afterEach(() => {
    bridge().setDelay(0)
  })

  describe('happy', () => {
    it('round-trips UTF-8 emoji and numeric strings through the base64 encoding', async () => {
      const redis = clientFor(bridge())
      const [emoji, numeric] = [key('emoji'), key('numeric')]
      await redis.set(emoji, 'héllo 😀 wörld')
      await redis.set(numeric, '00123')
      expect(await redis.get(emoji)).toBe('héllo 😀 wörld')
      // automatic deserialisation would turn "00123" into 123 were the bytes altered
      expect(await redis.get<string>(numeric)).toBe('00123')
      const raw = await call(bridge(), ['get', emoji], { base64: true })
      expect(raw).toEqual({
        status: 200,
        body: { result: Buffer.from('héllo 😀 wörld').toString('base64') },
      })
    })

    it('answers raw strings, integers and null without the encoding header', async () => {
      const k = key('raw')
      expect(await call(bridge(), ['set', k, '😀'])).toEqual({
        status: 200,
        body: { result: 'OK' },
      })
      expect(await call(bridge(), ['get', k])).toEqual({ status: 200, body: { result: '😀' } })
      expect(await call(bridge(), ['strlen', k])).toEqual({ status: 200, body: { result: 4 } })
      expect(await call(bridge(), ['get', key('missing')])).toEqual({
        status: 200,
        body: { result: null },
      })
    })

    it('sends arguments as strings: numbers, booleans and objects as JSON text', async () => {
      const k = key('args')
      await call(bridge(), ['rpush', k, 1.5, true, { a: 1 }, null])
      expect(await call(bridge(), ['lrange', k, 0, -1])).toEqual({
        status: 200,
        body: { result: ['1.5', 'true', '{"a":1}', 'null'] },
      })
    })

    it('returns HGETALL as a flat array, and a missing hash as empty', async () => {
      const redis = clientFor(bridge())
      const k = key('hash')
      await redis.hset(k, { name: 'Ada 😀', age: '36' })
      expect(await redis.hgetall(k)).toEqual({ name: 'Ada 😀', age: 36 })
      expect(await redis.hgetall(key('no-hash'))).toBeNull()
      const raw = await call(bridge(), ['hgetall', k])
      expect(raw.body).toEqual({ result: ['name', 'Ada 😀', 'age', '36'] })
      expect(await call(bridge(), ['hgetall', key('no-hash')])).toEqual({
        status: 200,
        body: { result: [] },
      })
    })

    it('answers a pipeline in order, with a Redis error in its own slot', async () => {
      const k = key('pipe')
      const results = await clientFor(bridge())
        .pipeline()
        .set(k, 'text')
        .incr(k)
        .get(k)
        .exec({ keepErrors: true })
      expect(results.map((r) => r.error)).toEqual([
        undefined,
        'ERR value is not an integer or out of range',
        undefined,
      ])
      expect(results.map((r) => r.result)).toEqual(['OK', undefined, 'text'])
    })

    it('runs /multi-exec as one transaction, with exec-time errors in their slot', async () => {
      const k = key('tx')
      const redis = clientFor(bridge())
      expect(await redis.multi().set(k, '1').incr(k).incr(k).exec()).toEqual(['OK', 2, 3])
      const raw = await call(
        bridge(),
        [
          ['set', k, 'a'],
          ['incr', k],
        ],
        { path: '/multi-exec' },
      )
      expect(raw).toEqual({
        status: 200,
        body: [{ result: 'OK' }, { error: 'ERR value is not an integer or out of range' }],
      })
    })

    it('strips the #!lua shebang from EVAL scripts that Redis 7.0 would reject', async () => {
      const script = '#!lua flags=allow-key-locking\nreturn ARGV[1]'
      expect(await clientFor(bridge()).eval(script, [], ['from lua 😀'])).toBe('from lua 😀')
    })

    it('answers SCRIPT LOAD with the hash of the original text and serves EVALSHA of it', async () => {
      const original = `#!lua flags=allow-key-locking\nreturn 'loaded ${randomUUID()}'`
      const stripped = original.slice(original.indexOf('\n') + 1)
      const redis = clientFor(bridge())
      const sha = await redis.scriptLoad(original)
      expect(sha).toBe(sha1(original))
      expect(await redis.evalsha(sha, [], [])).toBe(stripped.slice(8, -1))
      // Redis itself holds only the stripped text
      expect(await redis.scriptExists(sha1(stripped), sha1(original))).toEqual([1, 0])
    })
  })

  describe('rate limits through @upstash/ratelimit', () => {
    // The windows follow Date.now(): pinned mid-minute, a run never straddles a window's end.
    // Date only; the timers the client and the bridge's delay use stay real.
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(new Date('2026-06-01T12:00:30.000Z'))
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    it.each([
      ['fixed window', Ratelimit.fixedWindow(3, '60 s')],
      ['sliding window', Ratelimit.slidingWindow(3, '60 s')],
      ['token bucket', Ratelimit.tokenBucket(3, '60 s', 3)],
    ])('%s allows 3 of 5 calls and counts down what remains', async (_name, algorithm) => {
      const results = await limitFiveTimes(limiterFor(bridge(), algorithm))
      expect(results.map((r) => r.success)).toEqual([true, true, true, false, false])
      expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0, 0])
      expect(results.map((r) => r.reason)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ])
    })

    it('answers an unknown EVALSHA with NOSCRIPT, then serves it once EVAL taught the script', async () => {
      // A bridge of its own, so no earlier test has taught it the script yet.
      const fresh = await startUpstashBridge({ redisUrl: redisUrl(), token: 'fresh-token' })
      try {
        await limitFiveTimes(limiterFor(fresh, Ratelimit.fixedWindow(3, '60 s')))
        const log = fresh.requests.map(({ commands, body }) => ({ name: commands[0]?.[0], body }))
        expect(log.map((entry) => entry.name)).toEqual([
          'evalsha',
          'eval',
          'evalsha',
          'evalsha',
          'evalsha',
          'evalsha',
        ])
        expect(log[0]?.body).toEqual([{ error: 'NOSCRIPT No matching script. Please use EVAL.' }])
        const [evalsha, evalCommand] = fresh.requests.map((request) => request.commands[0] ?? [])
        expect(String(evalCommand?.[1])).toMatch(/^#!lua flags=allow-key-locking\n/)
        expect(evalsha?.[1]).toBe(sha1(String(evalCommand?.[1])))
        for (const entry of log.slice(2)) {
          expect(entry.body, JSON.stringify(entry.body)).toEqual([{ result: expect.any(Array) }])
        }
      } finally {
        await fresh.close()
      }
    })

    it('lets the limiter fail open with reason "timeout" when replies are slower than its timeout', async () => {
      const limiter = limiterFor(bridge(), Ratelimit.fixedWindow(3, '60 s'), 100)
      bridge().setDelay(400)
      const before = bridge().requests.length
      const result = await limiter.limit('caller-1')
      expect(result).toMatchObject({ success: true, limit: 0, remaining: 0, reason: 'timeout' })
      // The limiter gave up before the bridge answered anything.
      const answered = bridge()
        .requests.slice(before)
        .filter((request) => request.status !== undefined)
      expect(answered).toEqual([])
      await repliesLanded(before) // the delayed reply lands before the next test
    })

    it('counts a fixed window the same whatever second of the minute it runs at', async () => {
      for (const at of ['12:01:00.000', '12:01:59.999']) {
        vi.setSystemTime(new Date(`2026-06-01T${at}Z`))
        const results = await limitFiveTimes(limiterFor(bridge(), Ratelimit.fixedWindow(3, '60 s')))
        expect(
          results.map((r) => r.success),
          at,
        ).toEqual([true, true, true, false, false])
        expect(
          results.map((r) => r.reset),
          at,
        ).toEqual(Array(5).fill(Date.parse('2026-06-01T12:02:00.000Z')))
      }
    })
  })

  describe('errors', () => {
    it('answers a Redis error on / with 400 and the Redis text, unencoded', async () => {
      const k = key('wrongtype')
      await call(bridge(), ['set', k, 'x'])
      expect(await call(bridge(), ['incr', k], { base64: true })).toEqual({
        status: 400,
        body: { error: 'ERR value is not an integer or out of range' },
      })
      await expect(clientFor(bridge()).incr(k)).rejects.toThrow(/ERR value is not an integer/)
    })

    it('forwards an unknown EVALSHA so Redis answers NOSCRIPT', async () => {
      expect(await call(bridge(), ['evalsha', 'f'.repeat(40), 0])).toEqual({
        status: 400,
        body: { error: 'NOSCRIPT No matching script. Please use EVAL.' },
      })
    })

    it('discards a /multi-exec whose command Redis refuses, applying none of it', async () => {
      const k = key('discarded')
      await call(bridge(), ['set', k, 'before'])
      const res = await call(bridge(), [['set', k, 'after'], ['no-such-command']], {
        path: '/multi-exec',
      })
      expect(res.status).toBe(400)
      expect(res.body).toEqual({
        error: expect.stringMatching(/^ERR unknown command 'no-such-command'/),
      })
      expect(await call(bridge(), ['get', k])).toEqual({ status: 200, body: { result: 'before' } })
    })

    it('refuses commands that would change the shared connection', async () => {
      expect(await call(bridge(), ['select', 2])).toEqual({
        status: 400,
        body: { error: "ERR Command is not available: 'select'" },
      })
    })

    it('rejects bodies that are not a command or a list of commands with 400', async () => {
      for (const [path, body] of [
        ['/', 'not json'],
        ['/', '{}'],
        ['/', '[]'],
        ['/pipeline', '[]'],
        ['/pipeline', '["get","k"]'],
        ['/multi-exec', '[[]]'],
      ] as const) {
        const res = await call(bridge(), body, { path })
        expect(res.status, `${path} ${body}`).toBe(400)
        // our message, not a Redis one: nothing reached Redis
        expect(res.body).toEqual({ error: expect.stringMatching(/^Body must be/) })
      }
    })

    it('answers unknown paths with 404', async () => {
      expect((await call(bridge(), ['ping'], { path: '/nope' })).status).toBe(404)
    })

    it('answers the next requests with the status given to failNext, then recovers', async () => {
      const redis = clientFor(bridge())
      bridge().failNext(503, 2)
      await expect(redis.ping()).rejects.toThrow(/injected failure \(503\)/)
      await expect(redis.ping()).rejects.toThrow(/injected failure \(503\)/)
      expect(await redis.ping()).toBe('PONG')
    })

    it('makes the limiter reject when the bridge answers 500 before its timeout', async () => {
      const limiter = limiterFor(bridge(), Ratelimit.slidingWindow(3, '60 s'))
      bridge().failNext(500)
      await expect(limiter.limit('caller-1')).rejects.toThrow(/injected failure/)
    })

    it('delays every reply by the setDelay amount', async () => {
      bridge().setDelay(150)
      const events: string[] = []
      // A 100 ms timer set before the bridge receives the request, so before its 150 ms one.
      const timer = sleep(100).then(() => events.push('100 ms passed'))
      const reply = call(bridge(), ['ping']).then((res) => {
        events.push('reply')
        return res
      })
      expect(await reply).toEqual({ status: 200, body: { result: 'PONG' } })
      await timer
      expect(events).toEqual(['100 ms passed', 'reply'])
    })

    it('records each request with its path and commands', async () => {
      const k = key('logged')
      const before = bridge().requests.length
      await clientFor(bridge()).pipeline().set(k, 1).get(k).exec()
      expect(bridge().requests.slice(before)).toEqual([
        {
          path: '/pipeline',
          commands: [
            ['set', k, 1],
            ['get', k],
          ],
          status: 200,
          body: [{ result: 'T0s=' }, { result: 'MQ==' }], // "OK" and "1", base64 like every result string
        },
      ])
    })
  })

  describe('security', () => {
    it('answers a wrong or missing bearer token with 401 and runs nothing', async () => {
      const k = key('unauthorised')
      await expect(clientFor(bridge(), 'wrong-token').set(k, 'x')).rejects.toThrow(/Unauthorized/)
      const res = await fetch(bridge().url, { method: 'POST', body: JSON.stringify(['get', k]) })
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({ error: 'Unauthorized' })
      expect(await call(bridge(), ['exists', k])).toEqual({ status: 200, body: { result: 0 } })
    })

    it('answers anything but POST with 405', async () => {
      const res = await call(bridge(), undefined, { method: 'GET' })
      expect(res).toEqual({ status: 405, body: { error: expect.any(String) } })
    })
  })
})

describe('upstash bridge without Redis', () => {
  it('answers 500 with an error when Redis is unreachable', async () => {
    const down = await startUpstashBridge({ redisUrl: 'redis://127.0.0.1:1', token: 't' })
    try {
      const res = await call(down, ['ping'])
      expect(res.status).toBe(500)
      expect(res.body).toEqual({ error: expect.stringMatching(/^Redis is unavailable/) })
    } finally {
      await down.close()
    }
  })
})
