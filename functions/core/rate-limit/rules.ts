import { AppError } from '#core/errors.ts'
import type { Logger } from '#core/log.ts'

/**
 * Rate limiting (docs/ARCHITECTURE.md, "Rate limits and pacing"). A *rule* is a named limit
 * (`limit` events per sliding `windowSeconds`); a *key* says whose events are counted (`ip:<address>`
 * per client, `principal:<id>` per caller); a *decision* is the outcome of counting one event.
 * Why the client address is the right-most `X-Forwarded-For` entry: README, "Rate limits"; how
 * keys are spelled: keys.ts.
 */

/** What a request refused because rate limiting is unavailable is told (503 `UNAVAILABLE`). */
export const LIMITER_UNAVAILABLE_MESSAGE =
  'Rate limiting is unavailable, so this request is refused; try again shortly.'

/** A limit: at most `limit` events per sliding `windowSeconds` for one key. */
export type RateLimitRule = { name: string; limit: number; windowSeconds: number }

/**
 * The outcome of counting one event. `resetAt` is epoch ms (the end of the current window);
 * a store that failed or timed out is `unavailable`, with the error (when there was one) in
 * `cause` for the log — never for the caller.
 */
export type RateLimitDecision =
  | { kind: 'allowed'; limit: number; remaining: number; resetAt: number }
  | { kind: 'denied'; limit: number; remaining: 0; resetAt: number; retryAfterSeconds: number }
  | { kind: 'unavailable'; reason: 'timeout' | 'error'; cause?: unknown }

/**
 * Counts events per key against a rule (Upstash when configured, in-process otherwise). Never
 * throws for a store failure: that is an `unavailable` decision, so callers choose fail-open or
 * fail-closed.
 */
export type RateLimiter = {
  consume(rule: RateLimitRule, key: string): Promise<RateLimitDecision>
  /** Whether the store answers (the deep health check); `store` names it. */
  check(): Promise<{ ok: boolean; store: 'upstash' | 'in-process' }>
}

/**
 * The limits every function shares (README, "Rate limits"). A request without a verified
 * credential counts against its client address (`client*`); one with a verified credential
 * against its principal (`principal*`), with room for a page that polls a job every 2 s for a
 * 10-hour backfill (1800 an hour, 18,000 in the 10 hours) twice over.
 */
export const LIMITS = {
  clientHourly: { name: 'client-hour', limit: 200, windowSeconds: 3600 },
  clientDaily: { name: 'client-day', limit: 1000, windowSeconds: 86_400 },
  principalHourly: { name: 'principal-hour', limit: 3600, windowSeconds: 3600 },
  principalDaily: { name: 'principal-day', limit: 40_000, windowSeconds: 86_400 },
  login: { name: 'login', limit: 10, windowSeconds: 60 },
} as const satisfies Record<string, RateLimitRule>

/**
 * The standard headers for a decision: `RateLimit-Limit`, `RateLimit-Remaining`,
 * `RateLimit-Reset` (seconds from `nowMs`), plus `Retry-After` when denied. None for an
 * unavailable store: a timed-out limiter reports `reset: 0`, which must never become a header.
 */
export function rateLimitHeaders(
  decision: RateLimitDecision,
  nowMs: number,
): Record<string, string> {
  if (decision.kind === 'unavailable') {
    return {}
  }
  const reset = Math.max(0, Math.ceil((decision.resetAt - nowMs) / 1000))
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(reset),
  }
  if (decision.kind === 'denied') {
    headers['Retry-After'] = String(decision.retryAfterSeconds)
  }
  return headers
}

type Denied = Extract<RateLimitDecision, { kind: 'denied' }>
type Allowed = Extract<RateLimitDecision, { kind: 'allowed' }>

/**
 * Counts one event for each rule (in parallel, so a request refused by one rule still counts
 * against the others: attempts are what is limited) and ends the request when any is exceeded.
 * With `failClosed` (sign-in, backfill starts) a failing store answers 503, its cause kept for the
 * error log; otherwise the request goes on and the failure is logged as a warning. Logs name the
 * rules, never the key (an address or a user id).
 * Returns the headers of the tightest allowed decision, for the response.
 * @throws {AppError} RATE_LIMITED (429 with `Retry-After` of the longest wait) or UNAVAILABLE (503)
 * @example
 * const headers = await enforceLimits(deps, [LIMITS.login], clientKeyOf(req.clientIp), { failClosed: true })
 */
export async function enforceLimits(
  deps: { rateLimiter: RateLimiter; log: Logger; now: () => number },
  rules: readonly RateLimitRule[],
  key: string,
  options: { failClosed: boolean },
): Promise<Record<string, string>> {
  const decisions = await Promise.all(rules.map((rule) => deps.rateLimiter.consume(rule, key)))
  const denied = decisions
    .filter((decision): decision is Denied => decision.kind === 'denied')
    .sort((a, b) => b.retryAfterSeconds - a.retryAfterSeconds)[0]
  if (denied) {
    // The longest wait: retrying when only the shorter window has passed would be refused again.
    throw new AppError('RATE_LIMITED', 'Too many requests; try again later.', {
      details: { retryAfterSeconds: denied.retryAfterSeconds },
      headers: rateLimitHeaders(denied, deps.now()),
    })
  }
  const failure = decisions.find((decision) => decision.kind === 'unavailable')
  if (failure) {
    const names = rules.map((rule) => rule.name).join(', ')
    if (options.failClosed) {
      // Logged once, with the request id, where the error is answered (webEntry); the rules,
      // reason and cause go to that log only, never to the caller.
      throw new AppError('UNAVAILABLE', LIMITER_UNAVAILABLE_MESSAGE, {
        cause: failure.cause,
        details: { rules: names, reason: failure.reason },
        headers: { 'Retry-After': '30' },
        publicMessage: true,
      })
    }
    const context = {
      rules: names,
      reason: failure.reason,
      ...(failure.cause !== undefined && { err: failure.cause }),
    }
    deps.log.warn(context, 'rate-limit store unavailable; allowing')
    return {}
  }
  const tightest = decisions
    .filter((decision): decision is Allowed => decision.kind === 'allowed')
    .sort((a, b) => a.remaining - b.remaining)[0]
  return tightest ? rateLimitHeaders(tightest, deps.now()) : {}
}
