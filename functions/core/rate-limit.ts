import { AppError } from './errors.ts'
import type { Logger } from './log.ts'

/** A limit: at most `limit` events per sliding `windowSeconds` for one key. */
export type RateLimitRule = { name: string; limit: number; windowSeconds: number }

/** The outcome of counting one event. A store that failed or timed out is `unavailable`. */
export type RateLimitDecision =
  | { kind: 'allowed'; limit: number; remaining: number; resetAt: number }
  | { kind: 'denied'; limit: number; remaining: 0; resetAt: number; retryAfterSeconds: number }
  | { kind: 'unavailable'; reason: 'timeout' | 'error' }

/** Counts events per key against a rule (Upstash in production, in-process elsewhere). */
export type RateLimiter = {
  consume(rule: RateLimitRule, key: string): Promise<RateLimitDecision>
}

/** The shared limits of DESIGN §5. */
export const LIMITS = {
  clientHourly: { name: 'client-hour', limit: 200, windowSeconds: 3600 },
  clientDaily: { name: 'client-day', limit: 1000, windowSeconds: 86_400 },
  login: { name: 'login', limit: 10, windowSeconds: 60 },
  jiraBackfillStart: { name: 'backfill-jira-start', limit: 3, windowSeconds: 3600 },
  tempoBackfillStart: { name: 'backfill-tempo-start', limit: 5, windowSeconds: 3600 },
} as const satisfies Record<string, RateLimitRule>

/** Standard headers describing the tightest decision. */
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

/**
 * Counts one event for each rule and ends the request when any is exceeded. With `failClosed`
 * (sign-in, backfill starts) a failing store answers 503; otherwise the request goes on, logged.
 * Returns the headers of the tightest allowed decision.
 * @throws {AppError} RATE_LIMITED (429 with Retry-After) or UNAVAILABLE (503)
 */
export async function enforceLimits(
  deps: { rateLimiter: RateLimiter; log: Logger; now: () => number },
  rules: readonly RateLimitRule[],
  key: string,
  options: { failClosed: boolean },
): Promise<Record<string, string>> {
  const decisions = await Promise.all(rules.map((rule) => deps.rateLimiter.consume(rule, key)))
  const denied = decisions.find((decision) => decision.kind === 'denied')
  if (denied) {
    const headers = rateLimitHeaders(denied, deps.now())
    throw new AppError('RATE_LIMITED', 'Too many requests; try again later.', {
      details: { retryAfterSeconds: denied.kind === 'denied' ? denied.retryAfterSeconds : 1 },
      headers,
    })
  }
  const failure = decisions.find((decision) => decision.kind === 'unavailable')
  if (failure) {
    const rulesNames = rules.map((rule) => rule.name)
    if (options.failClosed) {
      deps.log.error(
        { rules: rulesNames, reason: failure.reason },
        'rate-limit store unavailable; refusing',
      )
      throw new AppError('UNAVAILABLE', 'Rate limiting is unavailable.', {
        headers: { 'Retry-After': '30' },
      })
    }
    deps.log.warn(
      { rules: rulesNames, reason: failure.reason },
      'rate-limit store unavailable; allowing',
    )
    return {}
  }
  const allowed = decisions.filter((decision) => decision.kind === 'allowed')
  const tightest = allowed.sort((a, b) => a.remaining - b.remaining)[0]
  return tightest ? rateLimitHeaders(tightest, deps.now()) : {}
}
