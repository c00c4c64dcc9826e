// Following a job to its end: long polls (`?waitSeconds=&since=`) paced by the per-client budget
// the answers report, waiting out every 429 and 503 for as long as `Retry-After` says.
import type { ApiError, ApiResult } from './errors.ts'
import type { JobShown, JobView, RateLimitInfo } from './types.ts'

/** How a follow goes; every field has a default. */
export type FollowOptions = {
  /** Called with the job each time it changes (and once at the start). */
  onUpdate?: (job: JobView) => void
  /** Called before each wait caused by a refusal or a failure, with its length and cause. */
  onWait?: (wait: { seconds: number; error: ApiError }) => void
  /** Seconds each long poll may wait for a change, 0–20 (default 20). */
  waitSeconds?: number
  /** At least this long between the starts of two long polls (default 2000 ms). */
  minIntervalMs?: number
  /**
   * At most this long between them (default 60 000 ms): the pace otherwise follows the budget the
   * answers report, keeping half of it for the rest of the page.
   */
  maxIntervalMs?: number
  /** Consecutive refusals or failures after which following stops (default 10; the job goes on). */
  maxRefusals?: number
  signal?: AbortSignal
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled'])
// Refusals and failures that pass: wait and ask again.
const TRANSIENT = new Set(['RATE_LIMITED', 'UNAVAILABLE', 'NETWORK_ERROR', 'INVALID_RESPONSE'])
const MAX_BACKOFF_SECONDS = 60

/**
 * Milliseconds between the starts of two requests: enough to spend at most half of the budget the
 * last answer reported (`RateLimit-Remaining` requests in `RateLimit-Reset` seconds), within
 * `minMs`…`maxMs` (`minMs` without a budget).
 */
export function paceMs(rateLimit: RateLimitInfo | null, minMs: number, maxMs = 60_000): number {
  if (!rateLimit) {
    return minMs
  }
  const { remaining, resetSeconds } = rateLimit
  const spread = remaining > 0 ? Math.ceil((resetSeconds / remaining) * 2) * 1000 : maxMs
  return Math.max(minMs, Math.min(maxMs, spread))
}

/** How long to wait after a failure without `Retry-After`: 2 s doubling, at most a minute. */
function backoffSeconds(refusals: number): number {
  return Math.min(MAX_BACKOFF_SECONDS, 2 ** refusals)
}

/**
 * Reads the job until it finishes; the result is its final view, or the error that stopped
 * following (the job itself goes on).
 */
export async function followJob(
  deps: {
    get: (options: {
      waitSeconds: number
      since?: string
      signal?: AbortSignal
    }) => Promise<ApiResult<JobShown>>
    now: () => number
    sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  },
  options: FollowOptions = {},
): Promise<ApiResult<JobView>> {
  // The route accepts whole seconds, 0–20.
  const waitSeconds = Math.min(20, Math.max(0, Math.floor(options.waitSeconds ?? 20)))
  const minIntervalMs = options.minIntervalMs ?? 2000
  const maxIntervalMs = options.maxIntervalMs ?? 60_000
  const maxRefusals = options.maxRefusals ?? 10
  let since: string | undefined
  let refusals = 0
  let nextAt = 0
  for (;;) {
    const delay = nextAt - deps.now()
    if (delay > 0) {
      await deps.sleep(delay, options.signal)
    }
    const started = deps.now()
    // The first look answers at once; later requests wait for a change from the last version.
    const firstLook = since === undefined
    const result = await deps.get({
      waitSeconds: firstLook ? 0 : waitSeconds,
      ...(since !== undefined && { since }),
      ...(options.signal && { signal: options.signal }),
    })
    if (!result.ok) {
      refusals += 1
      if (!TRANSIENT.has(result.error.code) || refusals >= maxRefusals) {
        return result
      }
      const seconds = result.error.retryAfterSeconds ?? backoffSeconds(refusals)
      options.onWait?.({ seconds, error: result.error })
      nextAt = deps.now() + seconds * 1000
      continue
    }
    refusals = 0
    const { job, version } = result.value
    if (version !== since) {
      options.onUpdate?.(job)
      since = version
    }
    if (FINAL.has(job.status)) {
      return { ok: true, value: job, meta: result.meta }
    }
    // The first long poll goes out right after the first look; later ones are paced.
    nextAt = firstLook ? 0 : started + paceMs(result.meta.rateLimit, minIntervalMs, maxIntervalMs)
  }
}
