import type { Clock } from '#core/clock.ts'
import type { Config } from '#core/config.ts'
import type { Logger } from '#core/log.ts'
import { createMemoryRateLimiter } from './memory.ts'
import type { RateLimiter } from './rules.ts'
import { createUpstashRateLimiter } from './upstash.ts'
import { createUpstashRedis, type UpstashRedis } from './upstash-client.ts'

/**
 * The limiter the configuration asks for: Upstash when `UPSTASH_REDIS_REST_*` are set (pass
 * `redis` to share one client with the pacer), else in-process with a warning. Production without
 * Upstash never gets here: `loadConfig` refuses it.
 */
export function createRateLimiter(
  config: Pick<Config, 'rateLimit'>,
  deps: { log: Logger; clock: Clock; redis?: UpstashRedis | undefined },
): RateLimiter {
  const { upstash, timeoutMs } = config.rateLimit
  if (!upstash) {
    deps.log.warn('no UPSTASH_REDIS_REST_URL: rate limits are counted in this process only')
    return createMemoryRateLimiter(deps.clock)
  }
  return createUpstashRateLimiter({ redis: deps.redis ?? createUpstashRedis(upstash), timeoutMs })
}
