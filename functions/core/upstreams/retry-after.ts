/**
 * How long an upstream asks us to wait, in ms from `nowMs`: `Retry-After` as seconds or an HTTP
 * date, else Jira's `X-RateLimit-Reset` (ISO 8601). `undefined` when the response says nothing.
 * @example retryAfterMsOf(response.headers, Date.now()) // 2000 for `Retry-After: 2`
 */
export function retryAfterMsOf(headers: Headers, nowMs: number): number | undefined {
  const raw = headers.get('retry-after')?.trim()
  if (raw) {
    if (/^\d+(\.\d+)?$/.test(raw)) {
      return Math.round(Number(raw) * 1000)
    }
    const at = Date.parse(raw)
    if (!Number.isNaN(at)) {
      return Math.max(0, at - nowMs)
    }
  }
  const reset = headers.get('x-ratelimit-reset')?.trim()
  const at = reset ? Date.parse(reset) : Number.NaN
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}
