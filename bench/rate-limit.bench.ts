// Latency of one rate-limit decision and one pacer slot: in-process against @upstash/ratelimit and
// the pacer's script over @upstash/redis through the local REST bridge to a real Redis (HTTP on
// loopback; a real Upstash round trip adds the network on top). Budgets are huge, so every call
// is granted and all do the same work.
// Run: DATABASE_URL=postgres://… REDIS_URL=redis://127.0.0.1:6379 npm run bench -- bench/rate-limit.bench.ts
import { randomUUID } from 'node:crypto'
import { bench, describe } from 'vitest'
import { createAdminKeyCheck } from '#core/auth/admin-key.ts'
import { createGuard } from '#core/auth/guard.ts'
import { createAppTokens } from '#core/auth/tokens.ts'
import { systemClock } from '#core/clock.ts'
import { createDatabase } from '#core/db/client.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import { createPacer, type Pacer } from '#core/rate-limit/pacer.ts'
import { enforceLimits, type RateLimiter, type RateLimitRule } from '#core/rate-limit/rules.ts'
import { createUpstashRateLimiter } from '#core/rate-limit/upstash.ts'
import { createUpstashRedis } from '#core/rate-limit/upstash-client.ts'
import { captureLog } from '#test/log.ts'
import { useUpstashBridge } from '#test/redis.ts'

const { redisAvailable, bridge } = useUpstashBridge()

const run = `bench-${randomUUID().slice(0, 8)}`
const hourly: RateLimitRule = { name: `${run}-hour`, limit: 1_000_000_000, windowSeconds: 3600 }
const daily: RateLimitRule = { name: `${run}-day`, limit: 1_000_000_000, windowSeconds: 86_400 }
// A 1 ms window keeps the pacer's slot lists as short as real budgets (≤ 50 a second) do.
const budget = { limit: 1_000_000_000, windowMs: 1 }
const budgets = { jira: budget, tempo: budget, pinecone: budget }
const options = { time: 2000, warmupTime: 200 }
const { log } = captureLog('silent')

const memory = createMemoryRateLimiter(systemClock)
const memoryPacer = createPacer({ budgets })
// Built on first use: the bridge starts in beforeAll.
let upstash: RateLimiter | undefined
let upstashPacer: Pacer | undefined
const upstashLimiter = () => {
  upstash ??= createUpstashRateLimiter({
    redis: createUpstashRedis({ url: bridge().url, token: bridge().token }),
    timeoutMs: 5000,
  })
  return upstash
}
const sharedPacer = () => {
  upstashPacer ??= createPacer({
    redis: createUpstashRedis({ url: bridge().url, token: bridge().token }),
    budgets,
    prefix: run,
  })
  return upstashPacer
}

describe('consume one rule', () => {
  bench(
    'in-process',
    async () => {
      await memory.consume(hourly, 'ip:203.0.113.7')
    },
    options,
  )
  bench.skipIf(!redisAvailable)(
    'Upstash via bridge',
    async () => {
      await upstashLimiter().consume(hourly, 'ip:203.0.113.7')
    },
    options,
  )
})

describe('enforceLimits, hourly + daily (one pipelined round trip on Upstash)', () => {
  const deps = (rateLimiter: RateLimiter) => ({ rateLimiter, log, now: Date.now })
  bench(
    'in-process',
    async () => {
      await enforceLimits(deps(memory), [hourly, daily], 'ip:203.0.113.8', { failClosed: true })
    },
    options,
  )
  bench.skipIf(!redisAvailable)(
    'Upstash via bridge',
    async () => {
      await enforceLimits(deps(upstashLimiter()), [hourly, daily], 'ip:203.0.113.8', {
        failClosed: true,
      })
    },
    options,
  )
})

describe('pacer.acquire', () => {
  bench(
    'in-process',
    async () => {
      await memoryPacer.acquire('pinecone')
    },
    options,
  )
  bench.skipIf(!redisAvailable)(
    'Upstash via bridge',
    async () => {
      await sharedPacer().acquire('pinecone')
    },
    options,
  )
})

// What the request path adds to each request with a credential: the principal, read without a
// database (docs/ARCHITECTURE.md, "Rate limits and pacing").
describe('guard.identify (a bearer token, no database read)', () => {
  const tokens = createAppTokens({
    secret: 'bench-secret-key-that-is-at-least-32-bytes',
    ttlHours: 24,
    clock: systemClock,
  })
  const guard = createGuard({
    // A pool that never connects: identify reads no database.
    db: createDatabase({ url: 'postgres://unused@127.0.0.1:1/none', poolMax: 1, caCert: undefined })
      .db,
    log,
    tokens,
    adminKeys: createAdminKeyCheck([]),
  })
  const user = { id: randomUUID(), role: 'member' as const, tokenVersion: 0 }
  let headers: Record<string, string> | undefined
  bench(
    'valid token',
    async () => {
      headers ??= {
        authorization: `Bearer ${(await tokens.issue(user, { rememberMe: false })).token}`,
      }
      await guard.identify(headers)
    },
    options,
  )
  bench(
    'made-up token',
    async () => {
      await guard.identify({ authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln' })
    },
    options,
  )
})

// The waits the tests only order: a decision when the store is slower than its timeout, and the
// fifth start on a budget of 4 per 200 ms.
describe('waits', () => {
  bench.skipIf(!redisAvailable)(
    'decision with the store slower than a 300 ms timeout',
    async () => {
      const slow = createUpstashRateLimiter({
        redis: createUpstashRedis({ url: bridge().url, token: bridge().token }),
        timeoutMs: 300,
      })
      bridge().setDelay(600)
      try {
        await slow.consume(hourly, 'ip:203.0.113.9')
      } finally {
        bridge().setDelay(0)
      }
    },
    { time: 1000, iterations: 5 },
  )
  bench(
    'five starts on a budget of 4 per 200 ms, in-process',
    async () => {
      const paced = createPacer({ budgets: { jira: { limit: 4, windowMs: 200 } } })
      for (let n = 0; n < 5; n++) {
        await paced.acquire('jira')
      }
    },
    { time: 1000, iterations: 5 },
  )
})
