// One HTTP exchange with the functions: URL, headers, JSON both ways, a time limit, and the answer
// turned into a result (errors.ts). Uses only fetch, URL, Headers and AbortController, so it runs
// in browsers and in Node alike.
import { type ApiResult, clientError, errorOfAnswer, retryAfterOf } from './errors.ts'
import type { RateLimitInfo, ResponseMeta } from './types.ts'

/** A request to a function: `path` is `v1/<fn>[/…]` under the base URL. */
export type Call = {
  method: 'GET' | 'POST' | 'DELETE'
  path: string
  query?: Record<string, string | number | undefined>
  body?: unknown
  headers?: Record<string, string>
  /** Give up after this long (default 30 s): the platform ends a web call at 30 s anyway. */
  timeoutMs?: number
  signal?: AbortSignal | undefined
}

export type TransportOptions = {
  /** `https://<host>/api/v1/web/<namespace>` (trailing slashes ignored). */
  baseUrl: string
  fetch: typeof fetch
  now: () => number
}

const DEFAULT_TIMEOUT_MS = 30_000

function rateLimitOf(headers: Headers): RateLimitInfo | null {
  const [limit, remaining, reset] = ['limit', 'remaining', 'reset'].map((name) =>
    Number(headers.get(`ratelimit-${name}`) ?? Number.NaN),
  )
  if (![limit, remaining, reset].every((value) => Number.isFinite(value))) {
    return null
  }
  return { limit: limit as number, remaining: remaining as number, resetSeconds: reset as number }
}

async function jsonOf(res: Response): Promise<{ body: unknown; parsed: boolean }> {
  const text = await res.text()
  if (!text) {
    return { body: undefined, parsed: true }
  }
  try {
    return { body: JSON.parse(text), parsed: true }
  } catch {
    return { body: undefined, parsed: false }
  }
}

/** The URL of a call. */
export function urlOf(baseUrl: string, call: Pick<Call, 'path' | 'query'>): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/${call.path.replace(/^\/+/, '')}`)
  for (const [name, value] of Object.entries(call.query ?? {})) {
    if (value !== undefined) {
      url.searchParams.set(name, String(value))
    }
  }
  return url.toString()
}

/**
 * Sends calls and reads answers: a 2xx is `{ ok: true, value: <JSON body>, meta }`, anything else
 * an `ApiError` with the request id and `Retry-After`.
 * @example const send = createTransport({ baseUrl, fetch, now: Date.now }); await send({ method: 'GET', path: 'v1/login' })
 */
export function createTransport(options: TransportOptions) {
  return async function send<T>(call: Call): Promise<ApiResult<T>> {
    const controller = new AbortController()
    const onAbort = () => controller.abort()
    call.signal?.addEventListener('abort', onAbort)
    const timer = setTimeout(() => controller.abort(), call.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    try {
      if (call.signal?.aborted) {
        return { ok: false, error: clientError('ABORTED', 'The call was aborted.') }
      }
      const hasBody = call.body !== undefined
      const res = await options.fetch(urlOf(options.baseUrl, call), {
        method: call.method,
        headers: {
          accept: 'application/json',
          ...(hasBody && { 'content-type': 'application/json' }),
          ...call.headers,
        },
        ...(hasBody && { body: JSON.stringify(call.body) }),
        signal: controller.signal,
      })
      const { body, parsed } = await jsonOf(res)
      const requestId = res.headers.get('x-request-id')
      const meta: ResponseMeta = {
        status: res.status,
        requestId,
        rateLimit: rateLimitOf(res.headers),
      }
      if (res.ok && parsed) {
        return { ok: true, value: body as T, meta }
      }
      const retryAfterSeconds = retryAfterOf(res.headers, options.now())
      return { ok: false, error: errorOfAnswer(res.status, body, { requestId, retryAfterSeconds }) }
    } catch {
      if (call.signal?.aborted) {
        return { ok: false, error: clientError('ABORTED', 'The call was aborted.') }
      }
      const timedOut = controller.signal.aborted
      const message = timedOut
        ? 'The server did not answer in time.'
        : 'The server could not be reached.'
      return { ok: false, error: clientError('NETWORK_ERROR', message) }
    } finally {
      clearTimeout(timer)
      call.signal?.removeEventListener('abort', onAbort)
    }
  }
}

/** Sends one call (see `createTransport`). */
export type Send = ReturnType<typeof createTransport>
