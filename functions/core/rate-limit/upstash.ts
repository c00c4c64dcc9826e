import { createHash } from 'node:crypto'
import type { RateLimitDecision, RateLimiter } from './rules.ts'
import type { UpstashRedis } from './upstash-client.ts'

/** What one sliding-window decision comes to (`reason: 'timeout'` when the store was too slow). */
export type LimitResponse = {
  success: boolean
  limit: number
  remaining: number
  reset: number
  reason?: string | undefined
}

/**
 * Maps one limiter result to a decision. A timeout (`success: true, reset: 0, reason: 'timeout'`,
 * as `@upstash/ratelimit` shaped it) is `unavailable`, and so is any result without a usable
 * `reset`, so no header is ever derived from `reset: 0`.
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

// One sliding-window decision, atomic in Redis (the semantics the limits were set with, those of
// `@upstash/ratelimit`'s single-region window): the requests counted in this fixed window plus the
// previous window's count, weighted by the share of it the sliding window still covers, must stay
// under the limit. KEYS: this window's counter, the previous one's. ARGV: limit, now (ms), window
// (ms), cost. Answers { what is left after this request, or -1 when refused; the limit }.
const SLIDING_WINDOW = `
local limit, now, span, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local here = tonumber(redis.call("GET", KEYS[1]) or "0")
local before = tonumber(redis.call("GET", KEYS[2]) or "0")
local carried = math.floor(before * (1 - (now % span) / span))
if cost > 0 and here + carried >= limit then
  return {-1, limit}
end
local counted = redis.call("INCRBY", KEYS[1], cost)
if counted == cost then
  -- The first request of this window: the counter lives while it can still be "the previous one".
  redis.call("PEXPIRE", KEYS[1], span * 2 + 1000)
end
return {limit - (counted + carried), limit}
`

let slidingWindowSha: string | undefined

// EVALSHA first (the script travels once per Redis), EVAL when Redis does not know it yet.
async function slidingWindow(redis: UpstashRedis, keys: string[], args: number[]) {
  slidingWindowSha ??= createHash('sha1').update(SLIDING_WINDOW).digest('hex')
  try {
    return await redis.evalsha(slidingWindowSha, keys, args)
  } catch (err) {
    if (String(err).includes('NOSCRIPT')) {
      return redis.eval(SLIDING_WINDOW, keys, args)
    }
    throw err
  }
}

// Resolves with `late` once `ms` have passed, unless `work` settles first; `work` goes on.
async function within<T>(ms: number, work: Promise<T>, late: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late), ms)
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The production limiter: sliding windows (the script above) on Upstash Redis, one `EVALSHA` per
 * decision.
 *
 * Settings, and why:
 * - `timeoutMs` (RATE_LIMIT_TIMEOUT_MS): a slower store is `unavailable` with reason `timeout`,
 *   so guarded routes refuse. The abandoned call may still count an event when it lands.
 * - No container-local cache of blocked clients: in DigitalOcean Functions many short-lived
 *   containers serve one client, so it would rarely hit, and a warm container would refuse what
 *   Redis would allow. No analytics and no deny lists: one script, nothing else written.
 * - Windows follow this process's `Date.now()`: containers are NTP-synchronised, and tests fake
 *   `Date` only.
 *
 * A thrown error (an error answer from Upstash, a network failure after the client's retry)
 * becomes `unavailable` with the error as `cause`; its message never quotes the command.
 */
export function createUpstashRateLimiter(deps: {
  redis: UpstashRedis
  timeoutMs: number
  prefix?: string
}): RateLimiter {
  const prefix = deps.prefix ?? 'agent-pm:rl'
  const timedOut: LimitResponse = {
    success: true,
    limit: 0,
    remaining: 0,
    reset: 0,
    reason: 'timeout',
  }

  return {
    async consume(rule, key) {
      const now = Date.now()
      const windowMs = rule.windowSeconds * 1000
      const current = Math.floor(now / windowMs)
      const base = `${prefix}:${rule.name}:${key}`
      const keys = [`${base}:${current}`, `${base}:${current - 1}`]
      const decided = slidingWindow(deps.redis, keys, [rule.limit, now, windowMs, 1]).then(
        (reply): LimitResponse => {
          const [left, limit] = Array.isArray(reply) ? reply.map(Number) : []
          const remaining = left ?? Number.NaN
          return {
            success: remaining >= 0,
            limit: limit ?? 0,
            remaining: Math.max(0, remaining),
            reset: Number.isFinite(remaining) ? (current + 1) * windowMs : 0,
          }
        },
      )
      decided.catch(() => {}) // decided late, after the timeout answered: nobody is waiting
      try {
        return toRateLimitDecision(await within(deps.timeoutMs, decided, timedOut), Date.now())
      } catch (cause) {
        return { kind: 'unavailable', reason: 'error', cause }
      }
    },
    async check() {
      const pong = deps.redis.ping()
      pong.catch(() => {})
      try {
        const answer = await within(deps.timeoutMs, pong, 'timeout')
        return { ok: answer === 'PONG', store: 'upstash' }
      } catch {
        return { ok: false, store: 'upstash' }
      }
    },
  }
}
