type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 502 | 503

/** The closed set of client-visible codes and their statuses (`satisfies` rejects any other status). */
export const STATUS_BY_CODE = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  ACCESS_PENDING: 403,
  ACCOUNT_DISABLED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UPSTREAM_FAILED: 502,
  UNAVAILABLE: 503,
} as const satisfies Record<string, ErrorStatus>

/** Clients branch on `code`, never on `message`: renaming a code is an API change. */
export type ErrorCode = keyof typeof STATUS_BY_CODE

type Details = Readonly<Record<string, unknown>>
type Options = {
  details?: Details
  cause?: unknown
  retryable?: boolean
  headers?: Readonly<Record<string, string>>
  /** A 5xx's message is replaced by a fixed sentence unless it was written for the caller. */
  publicMessage?: boolean
}

/**
 * Ends the request, or the job attempt, with a known code.
 * @example throw new AppError('NOT_FOUND', 'No such job.')
 */
export class AppError extends Error {
  override readonly name = 'AppError'
  readonly code: ErrorCode
  readonly status: ErrorStatus
  readonly details: Details | undefined // sent with 4xx: field paths, limits; never raw input
  readonly retryable: boolean // read by the job engine
  readonly headers: Readonly<Record<string, string>> | undefined // e.g. Retry-After on 429/503
  readonly publicMessage: boolean

  constructor(code: ErrorCode, message: string, options: Options = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.status = STATUS_BY_CODE[code]
    this.details = options.details
    this.retryable = options.retryable ?? false
    this.headers = options.headers
    this.publicMessage = options.publicMessage ?? false
  }
}

export type ErrorBody = {
  error: { code: ErrorCode; message: string; requestId: string; details?: Details }
}

// Socket errors and SQLSTATEs of a connection refused or cut (class 08, and 57P01–57P03: the
// server shutting down, crashed or not yet accepting), and pg's own words for a lost connection.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
])
const CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/

/**
 * Whether `err` (or an error it wraps, as drizzle wraps pg's) is a lost or refused database
 * connection: a restart or failover the next request may not meet.
 */
export function isConnectionLoss(err: unknown): boolean {
  let current: unknown = err
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code
    if (
      (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) ||
      CONNECTION_MESSAGES.test(current.message)
    ) {
      return true
    }
    current = current.cause
  }
  return false
}

/** Seconds a caller is asked to wait after a lost database connection. */
export const CONNECTION_LOSS_RETRY_AFTER_SECONDS = 5
/** What a caller is told after a lost database connection (503 `UNAVAILABLE`). */
export const CONNECTION_LOSS_MESSAGE =
  'The service is briefly unavailable; try again in a few seconds.'

/** The one place a thrown value becomes a response (called by `webEntry`). */
export function toErrorResponse(
  err: unknown,
  requestId: string,
): { status: ErrorStatus; headers: Record<string, string>; body: ErrorBody } {
  // A database restart is an outage to wait out, not a fault of the request (docs/ARCHITECTURE.md,
  // "The request path").
  if (!(err instanceof AppError) && isConnectionLoss(err)) {
    return {
      status: 503,
      headers: { 'Retry-After': String(CONNECTION_LOSS_RETRY_AFTER_SECONDS) },
      body: { error: { code: 'UNAVAILABLE', message: CONNECTION_LOSS_MESSAGE, requestId } },
    }
  }
  const headers = { ...(err instanceof AppError ? err.headers : undefined) }
  if (err instanceof AppError && err.status < 500) {
    const { code, message, details } = err
    const error = { code, message, requestId, ...(details && { details }) }
    return { status: err.status, headers, body: { error } }
  }
  // 5xx: a code and an id to quote. The cause goes to the logs, never to the caller; only a
  // message written for the person ("the upstream did not answer in time") is kept.
  const code = err instanceof AppError ? err.code : 'INTERNAL'
  const message =
    err instanceof AppError && err.publicMessage
      ? err.message
      : 'The server could not complete this request.'
  return { status: STATUS_BY_CODE[code], headers, body: { error: { code, message, requestId } } }
}
