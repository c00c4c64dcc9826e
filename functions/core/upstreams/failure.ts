import { setTimeout as sleepFor } from 'node:timers/promises'
import { AppError } from '#core/errors.ts'
import type { Upstream } from './pace-budgets.ts'

// What the Jira, Tempo and Pinecone clients share: one failure shape, which failures are worth
// another try, the quick in-process retries, and how a job step turns a failure into its result.

/**
 * Why an upstream call failed. `rate-limited`, `unavailable`, `timeout`, `network` and
 * `invalid-response` (a 2xx whose body is not the upstream's shape) are transient; the others need
 * a person: `dimension-mismatch` means the Pinecone index does not fit the embedding model.
 */
export type FailureReason =
  | 'rate-limited'
  | 'unavailable'
  | 'timeout'
  | 'network'
  | 'invalid-response'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'bad-request'
  | 'dimension-mismatch'

/** A failed upstream call; `retryAfterMs` when the upstream said how long to wait. */
export type UpstreamFailure = {
  ok: false
  reason: FailureReason
  status?: number
  retryAfterMs?: number
  /** One sentence for a person: no credentials, no bodies beyond the upstream's own error text. */
  message: string
}

/** An upstream call's outcome: the value, or why it failed (never a throw). */
export type UpstreamResult<T> = { ok: true; value: T } | UpstreamFailure

const TRANSIENT = new Set<FailureReason>([
  'rate-limited',
  'unavailable',
  'timeout',
  'network',
  'invalid-response',
])

/** Whether a failure is worth trying again later (the others need a person). */
export function isTransient(failure: Pick<UpstreamFailure, 'reason'>): boolean {
  return TRANSIENT.has(failure.reason)
}

/**
 * The one mapping of an upstream's HTTP error status to a reason: 429 rate-limited, 5xx
 * unavailable, 401 unauthorized, 403 forbidden, 404 not-found, any other status bad-request.
 */
export function reasonOfStatus(status: number): FailureReason {
  if (status === 429) {
    return 'rate-limited'
  }
  if (status >= 500) {
    return 'unavailable'
  }
  const byStatus: Record<number, FailureReason> = {
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not-found',
  }
  return byStatus[status] ?? 'bad-request'
}

/**
 * A failure for an HTTP error status. `describe` words it for the upstream (a sentence for a
 * person); the upstream's wait is kept for the transient reasons only.
 * @example failureOfStatus(503, (reason) => `Tempo: ${reason}.`, 2000)
 */
export function failureOfStatus(
  status: number,
  describe: (reason: FailureReason) => string,
  retryAfterMs?: number,
): UpstreamFailure {
  const reason = reasonOfStatus(status)
  const waits = isTransient({ reason }) && retryAfterMs !== undefined
  return { ok: false, reason, status, ...(waits && { retryAfterMs }), message: describe(reason) }
}

const MAX_MESSAGE = 300

/** Text on one line, at most 300 characters: what an upstream's error text may add to a message. */
export function capMessage(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line
}

/** Quick in-process retries of transient failures, before the job engine's own backoff. */
export type RetryPolicy = {
  /** Retries after the first try (default 2; 0 turns them off). */
  attempts: number
  /** First backoff step in ms, doubled per retry, with jitter (default 500). */
  baseDelayMs: number
  /** A longer wait (e.g. a long `Retry-After`) is returned to the caller instead (default 5000). */
  maxWaitMs: number
}

/** What each upstream client takes besides its address and credentials. */
export type CallOptions = {
  /** per request, in ms, counted once the pace lets it go (default 30 000) */
  timeoutMs?: number
  /**
   * Awaited before every request, retries included (shared outbound pacing); it receives the
   * call's abort signal and, for an upstream that limits some endpoints on their own, the
   * endpoint's family (Jira: `search`); a rejection (an abort while waiting) ends the call.
   */
  pace?: (signal?: AbortSignal, endpoint?: string) => Promise<unknown>
  /**
   * Told when the upstream asks us to wait (429, or 5xx with `Retry-After`): epoch ms to hold
   * until, and the endpoint family as for `pace`.
   */
  onThrottle?: (untilMs: number, endpoint?: string) => Promise<void> | void
  retry?: Partial<RetryPolicy>
  fetch?: typeof fetch
  now?: () => number
}

/** The clients' default `RetryPolicy`. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  attempts: 2,
  baseDelayMs: 500,
  maxWaitMs: 5000,
})

/**
 * Calls `call` again after a transient failure, up to `policy.attempts` times, waiting the
 * upstream's `retryAfterMs` or a jittered doubling step. Returns the last failure at once when the
 * wait would exceed `maxWaitMs`, or when `signal` aborts (before or during a wait): the caller is
 * stopping. Whatever `call` throws passes through.
 * @example const result = await withRetries(() => once(call), DEFAULT_RETRY, signal)
 */
export async function withRetries<T>(
  call: () => Promise<UpstreamResult<T>>,
  policy: RetryPolicy,
  signal?: AbortSignal,
): Promise<UpstreamResult<T>> {
  for (let attempt = 0; ; attempt += 1) {
    const result = await call()
    if (result.ok || !isTransient(result) || attempt >= policy.attempts || signal?.aborted) {
      return result
    }
    const step = policy.baseDelayMs * 2 ** attempt
    const waitMs = result.retryAfterMs ?? Math.round(step / 2 + Math.random() * (step / 2))
    if (waitMs > policy.maxWaitMs) {
      return result
    }
    try {
      await sleepFor(waitMs, undefined, signal ? { signal } : {})
    } catch {
      return result // aborted while waiting
    }
  }
}

/** A job step asking the engine to retry the chunk later (`StepResult`'s `retry`). */
export type RetryStep = { kind: 'retry'; reason: string; retryAfterMs?: number }

/**
 * A job step's answer to a failed upstream call: a retry (reason `<upstream>-<reason>`, with the
 * upstream's wait) for a transient failure.
 * @throws the signal's reason when the engine already stopped the chunk (lost lease, time budget,
 * cancel): the chunk is released rather than backed off
 * @throws {AppError} UPSTREAM_FAILED, not retryable, for a failure a person must fix (credentials,
 * a refused request)
 * @example if (!page.ok) { yield failureToStep(page, 'jira', signal); return }
 */
export function failureToStep(
  failure: UpstreamFailure,
  upstream: Upstream,
  signal?: AbortSignal,
): RetryStep {
  signal?.throwIfAborted()
  if (!isTransient(failure)) {
    throw new AppError('UPSTREAM_FAILED', failure.message, { retryable: false })
  }
  return {
    kind: 'retry',
    reason: `${upstream}-${failure.reason}`,
    ...(failure.retryAfterMs !== undefined && { retryAfterMs: failure.retryAfterMs }),
  }
}

/**
 * An upstream failure that ends a request or a planning step: UNAVAILABLE (503, retryable) when
 * transient, UPSTREAM_FAILED (502) otherwise; `what` completes "Could not …".
 * @example throw failureToError(listed, 'list the Jira projects')
 */
export function failureToError(failure: UpstreamFailure, what: string): AppError {
  const transient = isTransient(failure)
  return new AppError(
    transient ? 'UNAVAILABLE' : 'UPSTREAM_FAILED',
    `Could not ${what}: ${failure.message}`,
    { retryable: transient },
  )
}
