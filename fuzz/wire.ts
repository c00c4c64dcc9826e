// A plan made concrete: the world's credentials and job ids put in, the body encoded to bytes.
import type { Credentials } from './credentials.ts'
import { GOOGLE_CREDENTIAL, type Plan } from './plans.ts'

/** One request as it goes out: method, function, sub-path, query, headers and body bytes. */
export type WireRequest = {
  fn: string
  method: string
  path: string
  /** without `?` */
  query: string
  headers: Record<string, string>
  body: Buffer
  /** the client address the request comes from (the edge's right-most `X-Forwarded-For` hop) */
  clientIp: string
  eventOddity?: string
}

// The sign-in credential placeholder, wherever a mutation left it, becomes the real ID token.
function withGoogle(value: unknown, credential: string): unknown {
  if (value === GOOGLE_CREDENTIAL) {
    return credential
  }
  if (Array.isArray(value)) {
    return value.map((item) => withGoogle(item, credential))
  }
  if (value && typeof value === 'object') {
    const copy: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(copy, key, {
        value: withGoogle(item, credential),
        enumerable: true,
        configurable: true,
        writable: true,
      })
    }
    return copy
  }
  return value
}

function bodyBytes(plan: Plan, credentials: Credentials): Buffer {
  const { body } = plan
  switch (body.kind) {
    case 'none':
      return Buffer.alloc(0)
    case 'json': {
      const google = plan.google ? credentials.google(plan.google, plan.pick) : ''
      const text = JSON.stringify(withGoogle(body.value, google))
      return Buffer.from(text ?? 'null')
    }
    case 'raw':
      return Buffer.from(body.bytes)
    case 'deep':
      return Buffer.from(`${body.open.repeat(body.depth)}1${body.close.repeat(body.depth)}`)
    case 'huge': {
      const filler = 'a'.repeat(Math.max(0, body.bytes - 17))
      return Buffer.from(`{"credential":"${filler}"}`)
    }
  }
}

/** The request `plan` stands for, with the world's credentials and the known jobs. */
export function toWire(
  plan: Plan,
  options: { credentials: Credentials; knownJobs: readonly string[]; clientIp: string },
): WireRequest {
  const { knownJobs } = options
  const jobId =
    plan.jobId.kind === 'literal' || knownJobs.length === 0
      ? plan.jobId.kind === 'literal'
        ? plan.jobId.text
        : '00000000-0000-4000-8000-000000000000'
      : (knownJobs[plan.jobId.pick % knownJobs.length] ?? '')
  const body = bodyBytes(plan, options.credentials)
  const contentType =
    plan.contentType === 'default'
      ? body.length > 0
        ? 'application/json'
        : undefined
      : plan.contentType
  const headers: Record<string, string> = {
    ...plan.headers,
    ...options.credentials.headers(plan.credential, plan.pick),
    ...(contentType !== undefined && { 'content-type': contentType }),
  }
  return {
    fn: plan.fn,
    method: plan.method,
    path: plan.path.replace('{jobId}', jobId),
    query: plan.rawQuery ?? new URLSearchParams(plan.query).toString(),
    headers,
    body,
    clientIp: options.clientIp,
    ...(plan.eventOddity !== undefined && { eventOddity: plan.eventOddity }),
  }
}
