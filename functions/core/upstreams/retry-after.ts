/**
 * How long an upstream asks us to wait, in ms from `nowMs`: `Retry-After` as seconds or an HTTP
 * date, else Jira's `X-RateLimit-Reset` (ISO 8601, to the minute). `undefined` when the response
 * says nothing useful: no header, or a wait of 0 or in the past (`Retry-After: 0`, a reset minute
 * already gone), which callers answer with their own jittered backoff rather than at once.
 * @example retryAfterMsOf(response.headers, Date.now()) // 2000 for `Retry-After: 2`
 */
export function retryAfterMsOf(headers: Headers, nowMs: number): number | undefined {
  const raw = headers.get('retry-after')?.trim()
  let waitMs: number | undefined
  if (raw && /^\d+(\.\d+)?$/.test(raw)) {
    waitMs = Math.round(Number(raw) * 1000)
  } else if (raw && !Number.isNaN(Date.parse(raw))) {
    waitMs = Date.parse(raw) - nowMs
  }
  if (waitMs === undefined || waitMs <= 0) {
    const reset = headers.get('x-ratelimit-reset')?.trim()
    const at = reset ? Date.parse(reset) : Number.NaN
    waitMs = Number.isNaN(at) ? undefined : at - nowMs
  }
  return waitMs !== undefined && waitMs > 0 ? waitMs : undefined
}
