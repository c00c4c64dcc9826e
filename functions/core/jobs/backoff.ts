/** How long a chunk waits before its next attempt after a transient failure. */
export type BackoffPolicy = {
  /** Delay ceiling of the first retry, in ms. */
  baseMs: number
  /** No computed delay exceeds this, in ms. */
  capMs: number
  /** An upstream's `Retry-After` is honoured up to this, in ms (a bogus "come back next year" is not). */
  maxRetryAfterMs: number
}

/** 2 s, 4 s, 8 s … up to 5 minutes; `Retry-After` honoured up to an hour. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 2_000,
  capMs: 5 * 60_000,
  maxRetryAfterMs: 60 * 60_000,
}

/**
 * The delay before retry number `attempt` (1 for the first retry): exponential, capped, with
 * "equal jitter" (between half and all of the step) so that workers failing together spread out
 * without ever retrying at once. An upstream's `retryAfterMs` is a floor.
 * @example backoffMs(3, DEFAULT_BACKOFF, Math.random) // between 4 s and 8 s
 */
export function backoffMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
  retryAfterMs?: number,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30) // 2^30 × base is past any cap
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** exponent)
  const jittered = Math.round(step / 2 + random() * (step / 2))
  const floor = Math.min(Math.max(retryAfterMs ?? 0, 0), policy.maxRetryAfterMs)
  return Math.max(jittered, floor)
}
