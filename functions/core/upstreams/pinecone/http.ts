import { setTimeout as sleepFor } from 'node:timers/promises'
import {
  type CallOptions,
  capMessage,
  failureOfStatus,
  type UpstreamFailure,
} from '#core/upstreams/failure.ts'
import { retryAfterMsOf } from '#core/upstreams/retry-after.ts'

// One request to Pinecone's REST API (upstreams.md §4): paced, timed out, never redirected, 5xx
// retried, every failure returned as data. The data plane and inference speak the same JSON.

/** The REST API version sent with every request (the data plane and inference share it). */
export const PINECONE_API_VERSION = '2026-04'

/** What every request of one sink shares. */
export type PineconeHttpOptions = Omit<CallOptions, 'retry'> & {
  apiKey: string
  /** Retries of a 5xx without `Retry-After` (default 2); a 429 is never retried here. */
  maxRetries?: number
}

/** One request: `what` names it in failures ("an upsert of 3 vectors"). */
export type PineconeRequest = {
  method: 'GET' | 'POST'
  url: string
  body?: unknown
  what: string
  /** The caller's stop: it ends the pace, the request and a retry's wait alike. */
  signal?: AbortSignal | undefined
}

/** The JSON of a 2xx answer, or why there is none. */
export type PineconeAnswer = { ok: true; json: unknown } | UpstreamFailure

// The retry delay of the official client: 200 ms doubled per retry, ±25 % jitter, at most 20 s.
function retryDelayMs(retry: number): number {
  const base = 200 * 2 ** retry
  return Math.min(20_000, Math.max(0, base + base * 0.25 * (Math.random() * 2 - 1)))
}

function stopped(what: string): UpstreamFailure {
  return {
    ok: false,
    reason: 'timeout',
    message: `The Pinecone call (${what}) was stopped by its caller.`,
  }
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = []
  let current = err
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current)
    current = (current as { cause?: unknown }).cause
  }
  return chain
}

// What a thrown fetch (or a body that could not be read) becomes.
function thrownFailure(err: unknown, what: string, timeoutMs: number): UpstreamFailure {
  const chain = causes(err)
  const names = chain.map((e) => (e instanceof Error ? e.name : ''))
  if (names.some((name) => name === 'TimeoutError' || name === 'AbortError')) {
    return {
      ok: false,
      reason: 'timeout',
      message: `Pinecone did not answer ${what} within ${timeoutMs} ms.`,
    }
  }
  const code = chain.map((e) => (e as { code?: unknown }).code).find((c) => typeof c === 'string')
  return {
    ok: false,
    reason: 'network',
    message: `Pinecone could not be reached for ${what}${code ? ` (${String(code)})` : ''}.`,
  }
}

// Pinecone's error text: `{ message }` on the data plane, `{ error: { message } }` on the
// controller, or plain text (a wrong key answers `Unauthorized`).
async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: { message?: unknown } }
    const message = body.message ?? body.error?.message
    return typeof message === 'string' ? message : text
  } catch {
    return text
  }
}

async function statusFailure(
  response: Response,
  what: string,
  options: PineconeHttpOptions,
): Promise<UpstreamFailure> {
  const { status } = response
  const retryAfterMs =
    status === 429 || status === 503
      ? retryAfterMsOf(response.headers, (options.now ?? Date.now)())
      : undefined
  if (status === 429 || status >= 500) {
    await response.body?.cancel()
    if (retryAfterMs !== undefined) {
      await options.onThrottle?.((options.now ?? Date.now)() + retryAfterMs)
    }
    return failureOfStatus(
      status,
      (reason) =>
        reason === 'rate-limited'
          ? `Pinecone is rate limiting ${what} (HTTP 429).`
          : `Pinecone is unavailable for ${what} (HTTP ${status}).`,
      retryAfterMs,
    )
  }
  if (status === 401) {
    await response.body?.cancel()
    return failureOfStatus(
      status,
      () => 'Pinecone refused the API key (HTTP 401): check PINECONE_API_KEY.',
    )
  }
  const detail = capMessage(await errorText(response)) || 'no reason given'
  return failureOfStatus(status, () => `Pinecone refused ${what} (HTTP ${status}): ${detail}`)
}

/**
 * Sends one request to Pinecone and reads its JSON. Before each try it awaits the pace; each try
 * has `timeoutMs` from then on. A 3xx is never followed (it would carry the key elsewhere); a 5xx
 * without `Retry-After` is tried again up to `maxRetries` times; a 429, or a 503 with
 * `Retry-After`, is returned at once after `onThrottle` hears how long to hold.
 * @example const answer = await pineconeRequest(options, { method: 'POST', url: `${host}/describe_index_stats`, body: {}, what: 'the index statistics' })
 */
export async function pineconeRequest(
  options: PineconeHttpOptions,
  request: PineconeRequest,
): Promise<PineconeAnswer> {
  const { what, signal: stop } = request
  const timeoutMs = options.timeoutMs ?? 30_000
  const maxRetries = options.maxRetries ?? 2
  const fetchApi = options.fetch ?? globalThis.fetch
  const headers: Record<string, string> = {
    'Api-Key': options.apiKey,
    'X-Pinecone-Api-Version': PINECONE_API_VERSION,
    Accept: 'application/json',
    ...(request.body !== undefined && { 'Content-Type': 'application/json' }),
  }
  const body = request.body === undefined ? undefined : JSON.stringify(request.body)
  for (let retry = 0; ; retry += 1) {
    if (stop?.aborted) {
      return stopped(what)
    }
    let response: Response
    try {
      await options.pace?.(stop)
      // The time-out starts once the pace lets the request go.
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = stop ? AbortSignal.any([timeout, stop]) : timeout
      response = await fetchApi(request.url, {
        method: request.method,
        headers,
        ...(body !== undefined && { body }),
        signal,
        redirect: 'manual',
      })
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel()
        return {
          ok: false,
          reason: 'bad-request',
          status: response.status,
          message: `Pinecone answered ${what} with a redirect (HTTP ${response.status}), which is never followed: check PINECONE_INDEX_HOST and PINECONE_CONTROLLER_URL.`,
        }
      }
      if (response.ok) {
        return { ok: true, json: await response.json() }
      }
    } catch (err) {
      if (stop?.aborted) {
        return stopped(what)
      }
      if (err instanceof SyntaxError) {
        return {
          ok: false,
          reason: 'invalid-response',
          message: `Pinecone answered ${what} with a body that is not JSON.`,
        }
      }
      return thrownFailure(err, what, timeoutMs)
    }
    const failure = await statusFailure(response, what, options)
    if (
      failure.reason !== 'unavailable' ||
      failure.retryAfterMs !== undefined ||
      retry >= maxRetries
    ) {
      return failure
    }
    try {
      await sleepFor(retryDelayMs(retry), undefined, stop ? { signal: stop } : {})
    } catch {
      return stopped(what)
    }
  }
}
