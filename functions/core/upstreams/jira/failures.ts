import * as v from 'valibot'
import {
  capMessage,
  type FailureReason,
  failureOfStatus,
  type UpstreamFailure,
} from '#core/upstreams/failure.ts'
import { ErrorBodySchema } from './schemas.ts'

// How Jira's answers become failures: statuses and thrown fetch errors to a `reason`, and Jira's
// own error sentence (never a proxy's page) into the message. A body that does not fit Jira's
// shape is `unavailable` (most often a proxy's page), never `invalid-response`.

// Every sentence of Jira's error body, in full.
function jiraMessages(body: unknown): string[] {
  const parsed = v.safeParse(ErrorBodySchema, body)
  return parsed.success
    ? [...parsed.output.errorMessages, ...Object.values(parsed.output.errors)]
    : []
}

// Jira's own error text is a sentence meant for people; bodies of proxies and HTML pages are not.
function jiraErrorText(body: unknown): string | undefined {
  const messages = jiraMessages(body)
  return messages.length > 0 ? capMessage(messages.join(' ')) : undefined
}

/**
 * The ids among `ids` that Jira's 400 to `id in (…)` names, read from every message of the raw
 * body (one per unknown id: "An issue with key '10001' does not exist for field 'id'."), before
 * any capping. Only quoted numbers count, so the wording (and the user's language) may vary.
 * Internal to the Jira client.
 */
export function idsNamedIn(body: unknown, ids: readonly string[]): string[] {
  const named = new Set<string>()
  for (const message of jiraMessages(body)) {
    for (const match of message.matchAll(/'(\d{1,18})'/g)) {
      named.add(match[1] ?? '')
    }
  }
  return ids.filter((id) => named.has(id))
}

/**
 * The issue keys among `keys` that Jira's 400 to `key in (…)` names ("An issue with key 'OPS-7'
 * does not exist for field 'key'."), compared without case. Internal to the Jira client.
 */
export function keysNamedIn(body: unknown, keys: readonly string[]): string[] {
  const named = new Set<string>()
  for (const message of jiraMessages(body)) {
    for (const match of message.matchAll(/'([A-Za-z][A-Za-z0-9_]*-\d{1,18})'/g)) {
      named.add((match[1] ?? '').toUpperCase())
    }
  }
  return keys.filter((key) => named.has(key.toUpperCase()))
}

/** Internal to the Jira client. */
export function failureOf(
  status: number,
  body: unknown,
  path: string,
  retryAfterMs?: number,
): UpstreamFailure {
  const detail = jiraErrorText(body)
  const tail = detail ? `: ${detail}` : '.'
  const messages: Partial<Record<FailureReason, string>> = {
    'rate-limited': 'Jira is rate limiting requests (HTTP 429).',
    unavailable: `Jira is unavailable (HTTP ${status}).`,
    unauthorized: 'Jira refused the credentials (HTTP 401): check JIRA_EMAIL and JIRA_API_TOKEN.',
    forbidden: `Jira denied access (HTTP 403) to ${path}${tail}`,
    'not-found': `Jira has nothing at ${path} (HTTP 404)${tail}`,
  }
  const refused = `Jira rejected the request to ${path} (HTTP ${status})${tail}`
  return failureOfStatus(status, (reason) => messages[reason] ?? refused, retryAfterMs)
}

/** Internal to the Jira client. */
export function thrownFailure(err: unknown, timeoutMs: number): UpstreamFailure {
  const name = err instanceof Error ? err.name : ''
  if (name === 'TimeoutError' || name === 'AbortError') {
    return { ok: false, reason: 'timeout', message: `Jira did not answer within ${timeoutMs} ms.` }
  }
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code
  const why = typeof code === 'string' ? ` (${code})` : ''
  return { ok: false, reason: 'network', message: `Jira could not be reached${why}.` }
}

/** Internal to the Jira client. */
export function invalid(path: string): UpstreamFailure {
  // A body we cannot read is most often a proxy's error page: treat it as an outage.
  return {
    ok: false,
    reason: 'unavailable',
    message: `Jira answered ${path} with a body we could not read.`,
  }
}
