import { AppError } from '#core/errors.ts'
import type { HttpRequest } from '#core/http/types.ts'

/** What DigitalOcean passes as the second argument of `main`. */
export type DoContext = {
  activationId?: string
  requestId?: string
  functionName?: string
  deadline?: number
  getRemainingTimeInMillis?: () => number
}

/** DigitalOcean's request and response limit. */
export const MAX_BODY_BYTES = 1024 * 1024

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/
const RESERVED = new Set([
  'http',
  '__ow_method',
  '__ow_headers',
  '__ow_path',
  '__ow_query',
  '__ow_body',
])

type RawHttp = {
  method?: unknown
  path?: unknown
  headers?: unknown
  queryString?: unknown
  body?: unknown
  isBase64Encoded?: unknown
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {}
}

// A field as text: strings as they are, numbers and booleans spelled out, anything else absent
// (String() of an object can throw, and nothing about the envelope may).
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined
}

// Client-chosen names become keys: a null-prototype object keeps `__proto__` or `constructor` an
// ordinary key, which validation then refuses as unknown, instead of one that silently vanishes.
function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>
}

function lowerCaseHeaders(raw: unknown): Record<string, string> {
  const headers = emptyRecord<string>()
  for (const [name, value] of Object.entries(record(raw))) {
    if (typeof value === 'string') {
      headers[name.toLowerCase()] = value
    }
  }
  return headers
}

function firstValues(params: URLSearchParams): Record<string, string> {
  const query = emptyRecord<string>()
  for (const [key, value] of params) {
    if (!Object.hasOwn(query, key)) {
      query[key] = value
    }
  }
  return query
}

function isJson(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type)
}

/** Parses a raw body string under the JSON-only, 1 MB rules. @throws {AppError} 400, 413, 415 */
export function parseBody(text: string, contentType: string | undefined): unknown {
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
    throw tooLarge()
  }
  if (text.trim() === '') {
    return undefined
  }
  if (!isJson(contentType)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the request body as application/json.')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new AppError('BAD_REQUEST', 'The request body is not valid JSON.')
  }
}

/** The caller's address. DigitalOcean's edge appends the address it saw to `x-forwarded-for`, so
 * the right-most entry is the one a client cannot choose; anything to its left is client-supplied. */
export function clientIpOf(headers: Readonly<Record<string, string>>): string {
  const hops = (headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((hop) => hop.trim())
    .filter(Boolean)
  return hops.at(-1) ?? 'unknown'
}

// `/<namespace>/<package>/<function>`, as the runtime names the activation's function.
const FUNCTION_NAME = /^(\/[A-Za-z0-9_.@-]+){3}$/

/** The function's public web path, from the activation's fully qualified function name. */
export function functionPathOf(context: DoContext): string {
  const name = context.functionName ?? ''
  return FUNCTION_NAME.test(name) ? `/api/v1/web${name}` : ''
}

/**
 * Milliseconds the activation has left: the runtime's `getRemainingTimeInMillis` (called as a
 * method), else its `deadline`, else `Infinity`.
 */
export function remainingTimeOf(context: DoContext): () => number {
  if (typeof context.getRemainingTimeInMillis === 'function') {
    return () => context.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY
  }
  const { deadline } = context
  return deadline === undefined ? () => Number.POSITIVE_INFINITY : () => deadline - Date.now()
}

/**
 * Our request id: the activation id, which the platform assigns and its logs carry, else a new
 * UUID. A client-sent `x-request-id` is never ours (anyone could reuse one to muddle the logs);
 * a well-formed one is only echoed beside it (README, "The request path").
 */
function requestIdOf(context: DoContext): string {
  return context.activationId && REQUEST_ID.test(context.activationId)
    ? context.activationId
    : // The global Web Crypto, not node:crypto: loading that module costs every cold start ~5 ms.
      globalThis.crypto.randomUUID()
}

/** What is known of a web event before its body is read. */
export type Envelope = {
  /** upper case */
  method: string
  /** the sub-path after /<package>/<function>: '' or '/…' */
  path: string
  /** lower-case names */
  headers: Record<string, string>
  /** first value of each key */
  query: Record<string, string>
  /** ours: the activation id (or a new UUID) */
  requestId: string
  /** a well-formed `x-request-id` the request carried, echoed as `X-Client-Request-Id` */
  clientRequestId: string | undefined
  clientIp: string
  /** a raw body that is not empty, or (merged events) any parameter at all */
  hasBody: boolean
}

/**
 * The parts of any DigitalOcean web event known before its body is read: method, sub-path,
 * headers, query, ids and the client address. Cheap and total: it never throws.
 */
export function envelopeOf(event: unknown, context: DoContext): Envelope {
  const fields = record(event)
  const http: RawHttp = record(fields.http)
  const headers = lowerCaseHeaders(http.headers ?? fields.__ow_headers)
  const method = (textOf(http.method) ?? textOf(fields.__ow_method) ?? 'GET').toUpperCase()
  const rawPath = textOf(http.path) ?? textOf(fields.__ow_path) ?? ''
  const path = rawPath === '/' ? '' : rawPath.replace(/\/+$/, '')
  const fromClient = headers['x-request-id']
  const common = {
    method,
    path,
    headers,
    requestId: requestIdOf(context),
    clientRequestId: fromClient && REQUEST_ID.test(fromClient) ? fromClient : undefined,
    clientIp: clientIpOf(headers),
  }
  if (isRaw(http)) {
    const query = firstValues(
      new URLSearchParams((textOf(http.queryString) ?? '').replace(/^\?/, '')),
    )
    return { ...common, query, hasBody: typeof http.body === 'string' && http.body !== '' }
  }
  const query = emptyRecord<string>()
  let hasBody = false
  for (const [key, value] of Object.entries(fields)) {
    if (RESERVED.has(key)) {
      continue
    }
    hasBody = true
    if (typeof value === 'string') {
      query[key] = value
    }
  }
  return { ...common, query, hasBody }
}

// web: 'raw' delivers the query string and body as text; web: true merges them into the event.
function isRaw(http: RawHttp): boolean {
  return typeof http.queryString === 'string' || typeof http.body === 'string'
}

function tooLarge(): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', 'The request body is larger than 1 MB.', {
    details: { limitBytes: MAX_BODY_BYTES },
  })
}

/**
 * Maps a DigitalOcean web event (`web: 'raw'`, or `web: true` with merged parameters) to an
 * `HttpRequest`: the envelope plus the parsed body. The request id is resolved first, so even a
 * rejected body is answered with it.
 * @throws {AppError} BAD_REQUEST, PAYLOAD_TOO_LARGE or UNSUPPORTED_MEDIA_TYPE
 */
export function toHttpRequest(
  event: unknown,
  context: DoContext,
  envelope = envelopeOf(event, context), // passed in by webEntry, which has read it already
): HttpRequest {
  const fields = record(event)
  const http: RawHttp = record(fields.http)
  const { method, path, headers, query, requestId, clientIp } = envelope
  const base = { method, path, headers, query, requestId, clientIp }
  const functionPath = functionPathOf(context)
  const remainingMs = remainingTimeOf(context)

  if (isRaw(http)) {
    // web: 'raw': nothing parsed or merged by the platform.
    const rawBody = typeof http.body === 'string' ? http.body : ''
    const text =
      http.isBase64Encoded === true ? Buffer.from(rawBody, 'base64').toString('utf8') : rawBody
    return { ...base, functionPath, remainingMs, body: parseBody(text, headers['content-type']) }
  }

  // web: true: query and JSON body fields arrive merged at the top level.
  const merged = emptyRecord<unknown>()
  for (const [key, value] of Object.entries(fields)) {
    if (!RESERVED.has(key)) {
      merged[key] = value
    }
  }
  if (Buffer.byteLength(JSON.stringify(merged), 'utf8') > MAX_BODY_BYTES) {
    throw tooLarge()
  }
  const hasBody = method !== 'GET' && method !== 'HEAD' && envelope.hasBody
  return { ...base, functionPath, remainingMs, body: hasBody ? merged : undefined }
}
