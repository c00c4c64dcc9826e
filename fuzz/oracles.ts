// What every answer must satisfy (README, "Fuzzing"): no 5xx; every 4xx the JSON error envelope
// of core/errors.ts with the request id the answer's `X-Request-Id` names; nothing but a refusal
// for a request whose credentials verify as nobody (or as a non-admin, on an admin route).
import { STATUS_BY_CODE } from '#core/errors.ts'
import { BAD_CREDENTIALS } from './hostile-values.ts'
import type { Plan } from './plans.ts'
import type { Answer } from './targets.ts'
import type { WireRequest } from './wire.ts'

/** One broken rule. */
export type Violation = {
  kind: 'server-error' | 'not-an-envelope' | 'accepted-without-credentials' | 'state-changed'
  operation: string
  status: number
  detail: string
  /** the request, shortened: method, path, query, credential kind, mutations */
  request: string
}

const header = (answer: Answer, name: string) => {
  const found = Object.entries(answer.headers).find(([key]) => key.toLowerCase() === name)
  return found?.[1]
}

/** A line naming the request, for a report (no credential values). */
export function describeRequest(plan: Plan, wire: WireRequest): string {
  const query = wire.query.length > 80 ? `${wire.query.slice(0, 80)}…` : wire.query
  const path = wire.path.length > 80 ? `${wire.path.slice(0, 80)}…` : wire.path
  const bends = plan.mutations.length > 0 ? ` [${plan.mutations.join(', ')}]` : ''
  const body = wire.body.length > 0 ? ` body ${wire.body.length} B` : ''
  return `${wire.method} v1/${wire.fn}${path}${query ? `?${query}` : ''} as ${plan.credential}${body}${bends}`
}

// Why a 4xx body is not the envelope, or undefined when it is.
function envelopeProblem(answer: Answer): string | undefined {
  const type = header(answer, 'content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) {
    return `content-type ${JSON.stringify(type)}`
  }
  let body: unknown
  try {
    body = JSON.parse(answer.body.toString('utf8'))
  } catch {
    return `body is not JSON: ${answer.body.toString('utf8').slice(0, 120)}`
  }
  const keys = body && typeof body === 'object' ? Object.keys(body) : []
  const error = (body as { error?: Record<string, unknown> } | null)?.error
  if (keys.length !== 1 || !error || typeof error !== 'object') {
    return `body is not {"error": {…}}: ${answer.body.toString('utf8').slice(0, 120)}`
  }
  const extra = Object.keys(error).filter(
    (k) => !['code', 'message', 'requestId', 'details'].includes(k),
  )
  const code = String(error.code)
  const expected = (STATUS_BY_CODE as Record<string, number>)[code]
  if (expected === undefined) {
    return `unknown code ${JSON.stringify(error.code)}`
  }
  if (expected !== answer.status) {
    return `code ${code} answered with ${answer.status}`
  }
  if (typeof error.message !== 'string' || error.message === '') {
    return 'no message'
  }
  if (typeof error.requestId !== 'string' || error.requestId === '') {
    return 'no requestId'
  }
  if (header(answer, 'x-request-id') !== error.requestId) {
    return `requestId ${error.requestId} differs from X-Request-Id ${header(answer, 'x-request-id')}`
  }
  if (extra.length > 0) {
    return `unexpected fields ${extra.join(', ')}`
  }
  return undefined
}

// Functions whose every route is for admins, and login's routes other than the sign-in itself.
function needsCredentials(wire: WireRequest): 'admin' | 'user' | undefined {
  // The platform takes a method in any case (`post` is POST).
  const method = wire.method.toUpperCase()
  if (method === 'OPTIONS') {
    return undefined // a CORS preflight is answered to anyone
  }
  if (wire.fn === 'backfill-jira' || wire.fn === 'backfill-tempo') {
    return 'admin'
  }
  // The envelope drops trailing slashes: `/` and `//` are the function's root.
  const path = wire.path.replace(/\/+$/, '')
  if (wire.fn === 'login' && !(method === 'POST' && path === '')) {
    return 'user'
  }
  return undefined
}

/**
 * Whether a URL with this sub-path names another function once its dot segments are resolved
 * (`/../login`, `/%2e%2e`): the platform routes it, and answers its own 404 for no function.
 * In process the sub-path reaches the function as it is.
 */
export function leavesFunction(wire: Pick<WireRequest, 'fn' | 'path'>): boolean {
  const root = `/v1/${wire.fn}`
  const resolved = new URL(`http://host${root}${wire.path.replace(/[?#]/g, '')}`).pathname
  return resolved !== root && !resolved.startsWith(`${root}/`)
}

// Over HTTP, a request whose head (query and headers) passes the HTTP server's limit (16 KB in
// Node; DigitalOcean's edge has its own) is refused by the server before any function runs.
const HEAD_TOO_LARGE = 431

const NOT_ADMIN = new Set(['member-token', 'pending-token', 'monitor-token'])

// A HEAD answer has no body over HTTP; its request id is still in the header.
function refusalProblem(wire: WireRequest, answer: Answer): string | undefined {
  if (wire.method.toUpperCase() === 'HEAD') {
    return header(answer, 'x-request-id') ? undefined : 'no X-Request-Id'
  }
  return envelopeProblem(answer)
}

/**
 * The rules `answer` breaks for `plan` (sent as `wire`). `overHttp`: a URL that leaves the function
 * is the platform's to answer, not the envelope's.
 */
export function checkAnswer(
  plan: Plan,
  wire: WireRequest,
  answer: Answer,
  overHttp = false,
): Violation[] {
  const violations: Violation[] = []
  const add = (kind: Violation['kind'], detail: string) =>
    violations.push({
      kind,
      operation: plan.operation,
      status: answer.status,
      detail,
      request: describeRequest(plan, wire),
    })
  if (answer.status >= 500) {
    add('server-error', answer.body.toString('utf8').slice(0, 200))
  }
  if (answer.status >= 400 && answer.status < 500) {
    const problem =
      overHttp && (leavesFunction(wire) || answer.status === HEAD_TOO_LARGE)
        ? undefined
        : refusalProblem(wire, answer)
    if (problem) {
      add('not-an-envelope', problem)
    }
  }
  const needs = needsCredentials(wire)
  const refusedCredential =
    BAD_CREDENTIALS.includes(plan.credential) ||
    (needs === 'admin' && NOT_ADMIN.has(plan.credential))
  if (needs && refusedCredential && answer.status >= 200 && answer.status < 300) {
    add('accepted-without-credentials', `${answer.status} for ${plan.credential}`)
  }
  return violations
}

/** Whether an answer refused the request: a 4xx that records nothing (README, "Fuzzing"). */
export function isRefusal(answer: Answer): boolean {
  if (answer.status < 400 || answer.status >= 500) {
    return false
  }
  // A pending sign-in of a person seen for the first time records them for an admin to approve.
  return !answer.body.toString('utf8').includes('"ACCESS_PENDING"')
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Whether the state around a request must stay as it was: it was refused, or it only read (the
 * document's GET routes write nothing, and preflights are answered by the entry).
 */
export function leavesStateAlone(wire: WireRequest, answer: Answer): boolean {
  return isRefusal(answer) || (READS.has(wire.method.toUpperCase()) && answer.status < 500)
}
