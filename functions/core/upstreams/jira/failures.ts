import * as v from 'valibot'
import { ErrorBodySchema } from './schemas.ts'

// How Jira's answers become `JiraFailure`s: statuses and thrown fetch errors to a `reason`, and
// Jira's own error sentence (never a proxy's page) into the message.

/**
 * Why a Jira call failed. `rate-limited`, `unavailable`, `timeout` and `network` are transient
 * (retry later, honouring `retryAfterMs`); the others are final and need a person.
 */
export type JiraFailure = {
  ok: false
  reason:
    | 'rate-limited'
    | 'unavailable'
    | 'timeout'
    | 'network'
    | 'unauthorized'
    | 'forbidden'
    | 'not-found'
    | 'bad-request'
  status?: number
  retryAfterMs?: number
  /** One sentence for a person: no credentials, no response bodies beyond Jira's own error text. */
  message: string
}

/** A Jira call's outcome: the value, or why it failed (never a throw). */
export type JiraResult<T> = { ok: true; value: T } | JiraFailure

const MAX_MESSAGE = 300
function cap(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line
}

// Jira's own error text is a sentence meant for people; bodies of proxies and HTML pages are not.
function jiraErrorText(body: unknown): string | undefined {
  const parsed = v.safeParse(ErrorBodySchema, body)
  if (!parsed.success) {
    return undefined
  }
  const messages = [...parsed.output.errorMessages, ...Object.values(parsed.output.errors)]
  return messages.length > 0 ? cap(messages.join(' ')) : undefined
}

/** Internal to the Jira client. */
export function failureOf(
  status: number,
  body: unknown,
  path: string,
  retryAfterMs?: number,
): JiraFailure {
  const detail = jiraErrorText(body)
  const wait = retryAfterMs === undefined ? {} : { retryAfterMs }
  if (status === 429) {
    return {
      ok: false,
      reason: 'rate-limited',
      status,
      ...wait,
      message: 'Jira is rate limiting requests (HTTP 429).',
    }
  }
  if (status >= 500) {
    return {
      ok: false,
      reason: 'unavailable',
      status,
      ...wait,
      message: `Jira is unavailable (HTTP ${status}).`,
    }
  }
  if (status === 401) {
    return {
      ok: false,
      reason: 'unauthorized',
      status,
      message: 'Jira refused the credentials (HTTP 401): check JIRA_EMAIL and JIRA_API_TOKEN.',
    }
  }
  if (status === 403) {
    return {
      ok: false,
      reason: 'forbidden',
      status,
      message: `Jira denied access (HTTP 403) to ${path}${detail ? `: ${detail}` : '.'}`,
    }
  }
  if (status === 404) {
    return {
      ok: false,
      reason: 'not-found',
      status,
      message: `Jira has nothing at ${path} (HTTP 404)${detail ? `: ${detail}` : '.'}`,
    }
  }
  return {
    ok: false,
    reason: 'bad-request',
    status,
    message: `Jira rejected the request to ${path} (HTTP ${status})${detail ? `: ${detail}` : '.'}`,
  }
}

/** Internal to the Jira client. */
export function thrownFailure(err: unknown, timeoutMs: number): JiraFailure {
  const name = err instanceof Error ? err.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') {
    return { ok: false, reason: 'timeout', message: `Jira did not answer within ${timeoutMs} ms.` }
  }
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code
  const why = typeof code === 'string' ? ` (${code})` : ''
  return { ok: false, reason: 'network', message: `Jira could not be reached${why}.` }
}

/** Internal to the Jira client. */
export function invalid(path: string): JiraFailure {
  // A body we cannot read is most often a proxy's error page: treat it as an outage.
  return {
    ok: false,
    reason: 'unavailable',
    message: `Jira answered ${path} with a body we could not read.`,
  }
}
