import * as v from 'valibot'
import { AppError } from '#core/errors.ts'

/** One problem with a request field: its dot path (`''` for the body itself) and what was expected. */
export type InputIssue = { path: string; message: string }

// Keys of unknown fields are client-chosen: cap what we send back of them, and how many.
const MAX_ISSUES = 20
const MAX_SEGMENT = 64

function pathOf(issue: v.BaseIssue<unknown>): string {
  const segments = (issue.path ?? []).map((item) => {
    const key: unknown = item.key
    return typeof key === 'string' || typeof key === 'number' ? String(key) : '?'
  })
  return segments.map((segment) => segment.slice(0, MAX_SEGMENT)).join('.')
}

// valibot's default messages quote the received value ("…but received "eyJ…""); these never do.
// `expected` comes from the schema (a type, a literal or a bound), never from the input. A message
// a schema sets itself still wins: it is written by us, not by the caller.
function safeMessage(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === 'schema' && issue.input === undefined) {
    return 'Required.'
  }
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    return 'Unknown field.'
  }
  const what = issue.kind === 'schema' ? 'type' : issue.type.replaceAll('_', ' ')
  return issue.expected ? `Invalid ${what}: expected ${issue.expected}.` : `Invalid ${what}.`
}

/**
 * Validates untrusted input against a valibot schema and returns its typed output.
 * Issues become `details.issues: [{ path, message }]` without echoing any input value.
 * @throws {AppError} BAD_REQUEST listing the offending field paths
 * @example const body = parseInput(v.strictObject({ days: v.number() }), req.body)
 */
export function parseInput<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: false, message: safeMessage })
  if (result.success) {
    return result.output
  }
  const issues: InputIssue[] = result.issues
    .slice(0, MAX_ISSUES)
    .map((issue) => ({ path: pathOf(issue), message: issue.message }))
  throw new AppError('BAD_REQUEST', 'The request is not valid.', { details: { issues } })
}
