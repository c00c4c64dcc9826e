import type { Clock } from '#core/clock.ts'
import type { RateLimiter, RateLimitRule } from './rules.ts'

type Counts = { window: number; current: number; previous: number }

// Past this many keys, adding one sweeps out keys whose windows have all ended; the threshold
// then doubles with what is still live, so sweeping stays amortised O(1) per consume.
const SWEEP_AT = 10_000

/**
 * An in-process sliding-window limiter with Upstash's semantics (the same weighted two-window
 * count, the same `remaining` and `resetAt`), for development and tests without a store.
 * Counters live in this container only and follow the injected clock.
 */
export function createMemoryRateLimiter(
  clock: Clock,
  options: { sweepAt?: number } = {},
): RateLimiter {
  const counts = new Map<string, Counts & { size: number }>()
  const minimumSweepAt = options.sweepAt ?? SWEEP_AT
  let sweepAt = minimumSweepAt

  function sweep(now: number) {
    for (const [id, entry] of counts) {
      if (Math.floor(now / entry.size) > entry.window + 1) {
        counts.delete(id)
      }
    }
    sweepAt = Math.max(minimumSweepAt, counts.size * 2)
  }

  return {
    async consume(rule: RateLimitRule, key: string) {
      const now = clock.now().getTime()
      const size = rule.windowSeconds * 1000
      const window = Math.floor(now / size)
      const id = `${rule.name}:${rule.limit}:${rule.windowSeconds}:${key}`
      const stored = counts.get(id)
      // Shift the stored windows so that `current` is this window's count.
      const entry =
        stored?.window === window
          ? stored
          : {
              window,
              size,
              current: 0,
              previous: stored?.window === window - 1 ? stored.current : 0,
            }
      // As in Upstash's script: the previous window counts by the share of it still in view.
      const weight = 1 - (now % size) / size
      const used = Math.floor(entry.previous * weight) + entry.current
      const resetAt = (window + 1) * size
      if (used >= rule.limit) {
        const retryAfterSeconds = Math.max(1, Math.ceil((resetAt - now) / 1000))
        return { kind: 'denied', limit: rule.limit, remaining: 0, resetAt, retryAfterSeconds }
      }
      entry.current += 1
      if (entry !== stored) {
        if (counts.size >= sweepAt) {
          sweep(now)
        }
        counts.set(id, entry)
      }
      return { kind: 'allowed', limit: rule.limit, remaining: rule.limit - used - 1, resetAt }
    },
    async check() {
      return { ok: true, store: 'in-process' }
    },
  }
}
