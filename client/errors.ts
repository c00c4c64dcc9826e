// Errors as values: every call answers `{ ok: true, value }` or `{ ok: false, error }`, and an
// error is discriminated by its code: the functions' closed list plus three of the client's own.
import type { ErrorCode, InputIssue, JobView, ResponseMeta } from './types.ts'

/** The client's own codes: no answer, an answer that is not the API's, or the caller aborted. */
export type ClientErrorCode = 'NETWORK_ERROR' | 'INVALID_RESPONSE' | 'ABORTED'

type Base = {
  /** HTTP status; 0 when there was no answer. */
  status: number
  /** One sentence for a person. */
  message: string
  /** The `X-Request-Id` (or the body's `requestId`) to quote; null without an answer. */
  requestId: string | null
  /** Seconds the answer asked us to wait (`Retry-After`), if it did. */
  retryAfterSeconds: number | null
}

/** A refused or failed call. Branch on `code`, never on `message`. */
export type ApiError =
  | (Base & { code: 'BAD_REQUEST'; details: { issues?: InputIssue[] } })
  | (Base & { code: 'CONFLICT'; details: { job?: JobView } })
  | (Base & { code: 'RATE_LIMITED'; details: { retryAfterSeconds?: number } })
  | (Base & {
      code: Exclude<ErrorCode | ClientErrorCode, 'BAD_REQUEST' | 'CONFLICT' | 'RATE_LIMITED'>
      details: Record<string, unknown>
    })

/** Every call's outcome. */
export type ApiResult<T> =
  | { ok: true; value: T; meta: ResponseMeta }
  | { ok: false; error: ApiError }

// The functions' codes; `satisfies` makes the list name every code of core/errors.ts, once.
const SERVER_CODES = {
  BAD_REQUEST: true,
  UNAUTHENTICATED: true,
  FORBIDDEN: true,
  ACCESS_PENDING: true,
  ACCOUNT_DISABLED: true,
  NOT_FOUND: true,
  METHOD_NOT_ALLOWED: true,
  CONFLICT: true,
  PAYLOAD_TOO_LARGE: true,
  UNSUPPORTED_MEDIA_TYPE: true,
  RATE_LIMITED: true,
  INTERNAL: true,
  UPSTREAM_FAILED: true,
  UNAVAILABLE: true,
} satisfies Record<ErrorCode, true>

const isServerCode = (code: unknown): code is ErrorCode =>
  typeof code === 'string' && Object.hasOwn(SERVER_CODES, code)

/** `Retry-After` in seconds (a number, or an HTTP date from `nowMs`); null when absent or bad. */
export function retryAfterOf(headers: Headers, nowMs: number): number | null {
  const raw = headers.get('retry-after')?.trim()
  if (!raw) {
    return null
  }
  if (/^\d+$/.test(raw)) {
    return Number(raw)
  }
  const at = Date.parse(raw)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000))
}

/** An error of the client's own (no answer, or not the API's). */
export function clientError(
  code: ClientErrorCode,
  message: string,
  status = 0,
  requestId: string | null = null,
): ApiError {
  return { code, status, message, requestId, retryAfterSeconds: null, details: {} }
}

/** UNAUTHENTICATED without asking the server: there is no session to send. */
export function notSignedIn(): ApiError {
  return { ...clientError('ABORTED', 'Sign in first.'), code: 'UNAUTHENTICATED' }
}

/**
 * The error an answer carries: the API's envelope `{ error: { code, message, requestId,
 * details? } }`, else INVALID_RESPONSE (e.g. the platform's own error page).
 */
export function errorOfAnswer(
  status: number,
  body: unknown,
  meta: { requestId: string | null; retryAfterSeconds: number | null },
): ApiError {
  const error = (body as { error?: unknown } | null)?.error
  const fields =
    typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {}
  const code = fields.code
  if (!isServerCode(code)) {
    return {
      ...clientError(
        'INVALID_RESPONSE',
        `The server answered ${status} without an API error.`,
        status,
      ),
      requestId: meta.requestId,
      retryAfterSeconds: meta.retryAfterSeconds,
    }
  }
  const details = fields.details
  return {
    code,
    status,
    message: typeof fields.message === 'string' ? fields.message : '',
    requestId: typeof fields.requestId === 'string' ? fields.requestId : meta.requestId,
    retryAfterSeconds: meta.retryAfterSeconds,
    details: typeof details === 'object' && details !== null ? details : {},
  } as ApiError
}
