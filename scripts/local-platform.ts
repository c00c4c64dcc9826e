// What DigitalOcean's platform does around a function, for the local server: the raw web event it
// builds from a request, the context it passes, the time limit it enforces and how it turns a
// result into an HTTP answer (docs/ARCHITECTURE.md, "Local run and tests").
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** A function's `main` as the runtime calls it. */
export type Main = (event: unknown, context: unknown) => Promise<Record<string, unknown>>

/** An HTTP answer, headers with one entry per name. */
export type Answer = { status: number; headers: Record<string, string>; body: Buffer }

/** The platform's words for a failed web activation (a time-out among them). */
export const FAILED_ACTIVATION_MESSAGE = 'There was an error processing your request.'

// Content types the platform passes as text; any other body (none named counts) arrives base64.
const TEXT_TYPE =
  /^(text\/[\w.+-]+|application\/(json|xml|javascript|x-www-form-urlencoded|graphql)|application\/[\w.+-]+\+(json|xml))$/

/** Whether a body of this content type travels as text (else base64). */
export function isTextType(contentType: string | undefined): boolean {
  const [type = '', ...params] = (contentType ?? '').split(';')
  return (
    TEXT_TYPE.test(type.trim().toLowerCase()) || params.some((param) => /^\s*charset=/i.test(param))
  )
}

/** The `web: raw` event for one request, as the platform builds it. */
export function toWebEvent(request: {
  method: string
  path: string
  search: string
  headers: Record<string, string>
  body: Buffer
}) {
  const text = isTextType(request.headers['content-type'])
  return {
    http: {
      method: request.method,
      path: request.path,
      headers: request.headers,
      queryString: request.search.replace(/^\?/, ''),
      body: text ? request.body.toString('utf8') : request.body.toString('base64'),
      isBase64Encoded: !text,
    },
  }
}

/**
 * The `web: raw` event for an HTTP request to a web function (`path`: what follows the function's
 * name): the headers as the platform passes them, the peer's address appended to
 * `X-Forwarded-For` as DigitalOcean's edge does, and a request id when the client sent none.
 */
export function webEventOf(
  req: IncomingMessage,
  request: { path: string; search: string; body: Buffer },
) {
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([key, value]) => [
      key,
      Array.isArray(value) ? value.join(', ') : (value ?? ''),
    ]),
  )
  const peer = req.socket.remoteAddress ?? '127.0.0.1'
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']}, ${peer}`
    : peer
  headers['x-forwarded-proto'] = 'http'
  headers['x-request-id'] ||= randomUUID()
  return toWebEvent({ method: req.method ?? 'GET', headers, ...request })
}

/** The activation context: `getRemainingTimeInMillis` is a method, as the runtime defines it. */
export function activationContext(
  fn: { pkg: string; name: string; limits: { timeout?: number } },
  namespace: string,
  now: () => number = Date.now,
) {
  const deadline = now() + timeoutOf(fn)
  return {
    functionName: `/${namespace}/${fn.pkg}/${fn.name}`,
    functionVersion: '0.0.0',
    namespace,
    activationId: randomUUID().replaceAll('-', ''),
    deadline,
    getRemainingTimeInMillis(this: { deadline: number }) {
      return this.deadline - now()
    },
  }
}

/** The function's time limit: project.yml's `limits.timeout`, else the platform's 60 s. */
export function timeoutOf(fn: { limits: { timeout?: number } }): number {
  return Number(fn.limits.timeout ?? 60_000)
}

/** What one activation came to. */
export type Activation =
  | { kind: 'result'; result: Record<string, unknown> }
  | { kind: 'timeout'; message: string }
  | { kind: 'error'; message: string }

/**
 * Runs `main` under the function's time limit. A function that outlives it is abandoned (the
 * platform kills its container; here it runs on, unanswered) and the activation times out.
 */
export async function runActivation(
  main: Main,
  event: unknown,
  context: unknown,
  timeoutMs: number,
): Promise<Activation> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<Activation>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          kind: 'timeout',
          message: `The function exceeded its time limits of ${timeoutMs} milliseconds.`,
        }),
      timeoutMs,
    )
  })
  const ran = Promise.resolve()
    .then(() => main(event, context))
    .then(
      (result): Activation => ({ kind: 'result', result }),
      (err: unknown): Activation => ({
        kind: 'error',
        message: err instanceof Error ? err.message : String(err),
      }),
    )
  try {
    return await Promise.race([ran, expired])
  } finally {
    clearTimeout(timer)
  }
}

function json(status: number, body: unknown): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  }
}

/**
 * One web activation as the platform runs it: `main` with `event`, a fresh context, the
 * function's time limit; its answer (a failed activation's too) and what the activation came to.
 */
export async function invokeWeb(
  fn: { pkg: string; name: string; limits: { timeout?: number } },
  main: Main,
  event: unknown,
  namespace: string,
): Promise<{ answer: Answer; activation: Activation }> {
  const context = activationContext(fn, namespace)
  const activation = await runActivation(main, event, context, timeoutOf(fn))
  const answer =
    activation.kind === 'result'
      ? toAnswer(activation.result)
      : failedActivationAnswer(context.activationId)
  return { answer, activation }
}

/** The answer to a failed activation (time-out or throw), as the platform gives it. */
export function failedActivationAnswer(activationId: string): Answer {
  return json(400, { error: FAILED_ACTIVATION_MESSAGE, code: activationId })
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * The HTTP answer for a web function's result: object bodies as JSON, string bodies as text or,
 * for other content types, base64-decoded; one header per name (the function's spelling wins);
 * the 1 MB result limit.
 */
export function toAnswer(result: Record<string, unknown>): Answer {
  const headers: Record<string, string> = {}
  const names = new Map<string, string>() // lower-case name → the spelling kept
  for (const [name, value] of Object.entries((result.headers ?? {}) as Record<string, unknown>)) {
    const previous = names.get(name.toLowerCase())
    if (previous !== undefined) {
      delete headers[previous]
    }
    names.set(name.toLowerCase(), name)
    headers[name] = String(value)
  }
  const contentTypeName = names.get('content-type')
  const declared = contentTypeName === undefined ? undefined : headers[contentTypeName]
  const status = Number(result.statusCode ?? (result.body === undefined ? 204 : 200))
  let body: Buffer
  let contentType = declared
  if (result.body === undefined || result.body === null) {
    body = Buffer.alloc(0)
  } else if (typeof result.body === 'string') {
    contentType ??= 'text/html'
    if (isTextType(contentType) && !/json/i.test(contentType)) {
      body = Buffer.from(result.body)
    } else if (BASE64.test(result.body.replace(/\s/g, ''))) {
      body = Buffer.from(result.body, 'base64')
    } else {
      return json(400, { error: 'Response type in header did not match generated content type.' })
    }
  } else {
    contentType ??= 'application/json'
    body = Buffer.from(JSON.stringify(result.body))
  }
  if (body.length > 1024 * 1024) {
    return json(502, {
      error: 'The function produced a response that exceeded the allowed length.',
    })
  }
  if (contentType !== undefined && declared === undefined) {
    headers['content-type'] = contentType
  }
  return { status, headers, body }
}
