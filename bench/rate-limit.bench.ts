// Latency of one rate-limit decision and one pacer slot: in-process against @upstash/ratelimit and
// the pacer's script over @upstash/redis through the local REST bridge to a real Redis (HTTP on
// loopback; a real Upstash round trip adds the network on top). Budgets are huge, so every call
// is granted and all do the same work.
// Run: DATABASE_URL=postgres://… REDIS_URL=redis://127.0.0.1:6379 npm run bench -- bench/rate-limit.bench.ts
import { randomUUID } from 'node:crypto'
import { bench, describe } from 'vitest'
import { systemClock } from '#core/clock.ts'
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
