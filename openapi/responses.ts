// The answers' parts every path shares: headers, error answers (components, `$ref`'d by status)
// and success answers with the per-client limit's headers; the security requirements.
import { STATUS_BY_CODE } from '#core/errors.ts'
import { ref } from './convert.ts'

type Json = Record<string, unknown>

/** A `$ref` to a header component. */
export const header = (name: string) => ({ $ref: `#/components/headers/${name}` })
export const REQUEST_ID = {
  'X-Request-Id': header('X-Request-Id'),
  'X-Client-Request-Id': header('X-Client-Request-Id'),
}
export const LIMIT_HEADERS = {
  'RateLimit-Limit': header('RateLimit-Limit'),
  'RateLimit-Remaining': header('RateLimit-Remaining'),
  'RateLimit-Reset': header('RateLimit-Reset'),
}
/** JSON content of the schema component `name`. */
export const json = (name: string) => ({ 'application/json': { schema: ref(name) } })

const CODES_BY_STATUS = Object.entries(STATUS_BY_CODE).reduce<Record<number, string[]>>(
  (byStatus, [code, status]) => {
    byStatus[status] = [...(byStatus[status] ?? []), code]
    return byStatus
  },
  {},
)

/** An error answer (a component): the envelope, the codes this status carries, its headers. */
function failure(status: number, when: string, headers: Json = {}): Json {
  const codes = (CODES_BY_STATUS[status] ?? []).map((code) => `\`${code}\``).join(', ')
  return {
    description: `${when} (${codes}).`,
    headers: { ...REQUEST_ID, ...headers },
    content: json('Error'),
  }
}

export const RETRY = { 'Retry-After': header('Retry-After') }
export const ERRORS = {
  400: failure(400, 'The request is not valid: `details.issues` lists each field'),
  401: failure(401, 'No valid credentials', { 'WWW-Authenticate': header('WWW-Authenticate') }),
  403: failure(403, 'Signed in, but not allowed'),
  404: failure(404, 'No such job (or one of another kind)'),
  409: failure(409, '`details.job` is the job in the way'),
  413: failure(413, 'The body exceeds 1 MB'),
  415: failure(415, 'The body is not JSON'),
  429: failure(429, 'Over a rate limit: wait `Retry-After` seconds', {
    ...RETRY,
    ...LIMIT_HEADERS,
  }),
  500: failure(500, 'Something failed on our side: quote the request id'),
  502: failure(502, 'An upstream refused the work'),
  503: failure(503, 'A dependency is unavailable; try again after `Retry-After` when sent', RETRY),
}
type Status = keyof typeof ERRORS
export const errors = (...statuses: Status[]) =>
  Object.fromEntries(
    statuses.map((status) => [String(status), { $ref: `#/components/responses/${status}` }]),
  )

/** A success answer with the per-client limit's headers. */
export function success(description: string, schema?: string, headers: Json = {}): Json {
  return {
    description,
    headers: { ...REQUEST_ID, ...LIMIT_HEADERS, ...headers },
    ...(schema && { content: json(schema) }),
  }
}

/** Security: the session's bearer token; or, for admins, that or `X-Admin-Key`. */
export const BEARER = [{ bearerAuth: [] }]
export const ADMIN = [{ bearerAuth: [] }, { adminKey: [] }]
export const BODY_ERRORS = [400, 413, 415] as const

const integerHeader = (description: string) => ({
  description,
  schema: { type: 'integer', minimum: 0 },
})

/** The headers the answers name, as components. */
export const HEADERS = {
  'X-Request-Id': {
    description:
      "The request's id (the platform's activation id): every log line of it carries it.",
    schema: { type: 'string' },
  },
  'X-Client-Request-Id': {
    description:
      'Your own `X-Request-Id`, when well formed, echoed beside ours and logged with it.',
    schema: { type: 'string' },
  },
  'Retry-After': integerHeader('Seconds to wait before trying again.'),
  'RateLimit-Limit': integerHeader('Requests allowed in the window.'),
  'RateLimit-Remaining': integerHeader('Requests left in the window.'),
  'RateLimit-Reset': integerHeader('Seconds until the window frees a request.'),
  Location: { description: "The job's URL.", schema: { type: 'string' } },
  'WWW-Authenticate': { schema: { type: 'string' } },
}
