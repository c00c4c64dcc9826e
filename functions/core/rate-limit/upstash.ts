import { Ratelimit } from '@upstash/ratelimit'
import type { Redis } from '@upstash/redis'
import type { RateLimitDecision, RateLimiter, RateLimitRule } from './rules.ts'

/** What `Ratelimit.limit()` resolves to, as far as we read it. */
export type LimitResponse = {
  success: boolean
  limit: number
  remaining: number
  reset: number
  reason?: string | undefined
}

/**
 * Maps one `Ratelimit.limit()` result to a decision. The library answers a timeout with
 * `success: true, reset: 0, reason: 'timeout'` (fail-open): that is `unavailable`, and so is any
 * result without a usable `reset`, so no header is ever derived from `reset: 0`.
 */
export function toRateLimitDecision(response: LimitResponse, nowMs: number): RateLimitDecision {
  if (response.reason === 'timeout') {
    return { kind: 'unavailable', reason: 'timeout' }
  }
  if (!(Number.isFinite(response.reset) && response.reset > 0 && response.limit > 0)) {
    return { kind: 'unavailable', reason: 'error', cause: new Error('incomplete limiter result') }
  }
  const { limit, reset: resetAt } = response
  if (!response.success) {
    const retryAfterSeconds = Math.max(1, Math.ceil((resetAt - nowMs) / 1000))
    return { kind: 'denied', limit, remaining: 0, resetAt, retryAfterSeconds }
  }
  return { kind: 'allowed', limit, remaining: Math.max(0, response.remaining), resetAt }
}

/**
 * The production limiter: `@upstash/ratelimit` sliding windows over `@upstash/redis`, one
 * `Ratelimit` per rule, built on first use and kept for the container's life. Keys are
 * `<prefix>:<rule>:<key>:<window number>`.
 *
 * Settings, and why:
 * - `timeout` (RATE_LIMIT_TIMEOUT_MS): the library resolves a slow call as allowed with reason
 *   `timeout`; we report it as `unavailable` so guarded routes refuse. The abandoned call may
 *   still count an event when it lands.
 * - `ephemeralCache: false`: the library's default is a module-level Map that remembers blocked
 *   identifiers until the end of the fixed window. In DigitalOcean Functions many short-lived
 *   containers serve one client, so it rarely hits; it blocks longer than the sliding window does
 *   (the previous window's share decays before the fixed window ends), so a container would
 *   refuse what Redis would allow; and it only evicts an entry when that identifier returns, so a
 *   warm container would keep every address it ever blocked. A refused request costs one round
 *   trip, which is not worth a second, container-local answer.
 * - `analytics: false`, `enableProtection: false`: no extra writes, and no deny-list download from
 *   GitHub at request time.
 * - Windows follow this process's `Date.now()` (the library has no clock option): containers are
 *   NTP-synchronised, and tests fake `Date` only.
 *
 * A thrown error (HTTP error from Upstash, network failure after the client's retry) becomes
 * `unavailable` with the error as `cause`; its message quotes the command (keys, addresses),
 * which the logger cuts off ("command was: …").
 */
export function createUpstashRateLimiter(deps: {
  redis: Redis
  timeoutMs: number
  prefix?: string
}): RateLimiter {
  const prefix = deps.prefix ?? 'agent-pm:rl'
  const limiters = new Map<string, Ratelimit>()

  function limiterFor(rule: RateLimitRule): Ratelimit {
    const id = `${rule.name}:${rule.limit}:${rule.windowSeconds}`
    let limiter = limiters.get(id)
    if (!limiter) {
      limiter = new Ratelimit({
        redis: deps.redis,
        limiter: Ratelimit.slidingWindow(rule.limit, `${rule.windowSeconds} s`),
        prefix: `${prefix}:${rule.name}`,
        timeout: deps.timeoutMs,
        ephemeralCache: false,
        analytics: false,
        enableProtection: false,
      })
      limiters.set(id, limiter)
    }
    return limiter
  }

  return {
    async consume(rule, key) {
      try {
        return toRateLimitDecision(await limiterFor(rule).limit(key), Date.now())
      } catch (cause) {
        return { kind: 'unavailable', reason: 'error', cause }
      }
    },
    async check() {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), deps.timeoutMs)
      })
      try {
        const answer = await Promise.race([deps.redis.ping(), timeout])
        return { ok: answer === 'PONG', store: 'upstash' }
      } catch {
        return { ok: false, store: 'upstash' }
      } finally {
        clearTimeout(timer)
      }
    },
  }
}
