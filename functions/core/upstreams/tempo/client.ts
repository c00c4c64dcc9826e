import * as v from 'valibot'
import {
  type CallOptions,
  DEFAULT_RETRY,
  type FailureReason,
  failureOfStatus,
  type RetryPolicy,
  type UpstreamFailure,
  type UpstreamResult,
  withRetries,
} from '#core/upstreams/failure.ts'
import { retryAfterMsOf } from '#core/upstreams/retry-after.ts'
import { WorklogIdJson, WorklogJson, WorklogPageJson } from './schemas.ts'

/** A worklog as the pipeline reads it; ids are strings, as Jira's and our tables' are. */
export type TempoWorklog = {
  id: string
  issueId: string
  accountId: string
  /** the author's e-mail when Tempo sent one (v4 normally does not) */
  authorEmail: string | null
  timeSpentSeconds: number
  /** yyyy-MM-dd */
  startDate: string
  /** HH:mm:ss, or null when Tempo sent none */
  startTime: string | null
  description: string
  updatedAt: Date | null
}

/**
 * One page: the worklogs that parsed; the items that did not (`invalid`), with the ids of those
 * whose `tempoWorklogId` could still be read (`invalidIds`); and the next page's URL.
 */
export type WorklogPage = {
  worklogs: TempoWorklog[]
  invalid: number
  invalidIds: string[]
  next: string | null
}

/** The account id Tempo reports for a GDPR-anonymised author (Jira knows no such account). */
export const ANONYMISED_ACCOUNT_ID = '__tempo-io__unknown_user'

/** Tempo's API hosts (reference: its documented base URLs); `next` links may point at any of them. */
export const TEMPO_API_HOSTS: ReadonlySet<string> = new Set([
  'api.tempo.io',
  'api.eu.tempo.io',
  'api.us.tempo.io',
])

/** Filters of `GET /4/worklogs`. Dates are yyyy-MM-dd on the worklog's `startDate`, inclusive. */
export type WorklogQuery = {
  from?: string
  to?: string
  /** only worklogs changed since then (sent as yyyy-MM-ddTHH:mm:ssZ) */
  updatedFrom?: Date
  /** Jira project ids (repeated `projectId`) */
  projectIds?: readonly string[]
  /** Jira issue ids (repeated `issueId`) */
  issueIds?: readonly string[]
  /** page size, 1–5000 (default 1000) */
  limit?: number
  offset?: number
}

/**
 * The Tempo Cloud REST v4 calls the pipeline makes. In a failure, `retryAfterMs` comes with
 * `rate-limited` (≥ 1 s) and with a 5xx that sent `Retry-After`; `invalid-response` is a 2xx whose
 * body is not Tempo's shape; the message never carries the token or Tempo's body.
 */
export type TempoClient = {
  /** The first page of worklogs matching `query`. */
  listWorklogs(query: WorklogQuery, signal?: AbortSignal): Promise<UpstreamResult<WorklogPage>>
  /**
   * The page at a `next` URL of an earlier page. Refused (`bad-request`, no request made) unless
   * it points at the worklogs path on the configured origin or on one of Tempo's own API hosts
   * over https (`TEMPO_API_HOSTS`): the token is never sent elsewhere.
   */
  nextPage(next: string, signal?: AbortSignal): Promise<UpstreamResult<WorklogPage>>
}

/** What a Tempo client needs (its own `fetch` is never used: redirects stay off). */
export type TempoClientOptions = Omit<CallOptions, 'fetch'> & {
  /** e.g. `https://api.tempo.io`, or as Tempo documents it, `https://api.eu.tempo.io/4` */
  baseUrl: string
  apiToken: string
}

// Tempo's page size when a query sets none: large pages, few requests (Tempo allows 5000).
const DEFAULT_PAGE_SIZE = 1000
const DEFAULT_TIMEOUT_MS = 30_000
// Tempo asks clients to wait at least a second after a 429, with or without `Retry-After`.
const MIN_RATE_LIMIT_WAIT_MS = 1000
const WORKLOGS_PATH = '/4/worklogs'

function failure(reason: FailureReason, message: string, extra: Partial<UpstreamFailure> = {}) {
  return { ok: false as const, reason, message, ...extra }
}

function statusFailure(res: Response, nowMs: number): UpstreamFailure {
  const { status } = res
  const after = retryAfterMsOf(res.headers, nowMs)
  const messages: Partial<Record<FailureReason, string>> = {
    'rate-limited': 'Tempo is rate limiting requests.',
    unavailable: `Tempo is unavailable (HTTP ${status}).`,
    unauthorized: 'Tempo did not accept the API token (HTTP 401).',
    forbidden: 'The Tempo API token may not read worklogs (HTTP 403).',
    'not-found': 'Tempo has no such resource (HTTP 404).',
  }
  const refused = `Tempo refused the request (HTTP ${status}).`
  const wait = status === 429 ? Math.max(after ?? 0, MIN_RATE_LIMIT_WAIT_MS) : after
  return failureOfStatus(status, (reason) => messages[reason] ?? refused, wait)
}

function toWorklog(item: v.InferOutput<typeof WorklogJson>): TempoWorklog {
  const email = item.author.emailAddress ?? item.author.email ?? ''
  const updatedMs = item.updatedAt ? Date.parse(item.updatedAt) : Number.NaN
  const time = item.startTime ?? null
  return {
    id: String(item.tempoWorklogId),
    issueId: String(item.issue.id),
    accountId: item.author.accountId,
    authorEmail: email.trim() === '' ? null : email.trim(),
    timeSpentSeconds: item.timeSpentSeconds,
    startDate: item.startDate,
    startTime: time && time.length === 5 ? `${time}:00` : time,
    description: item.description ?? '',
    updatedAt: Number.isNaN(updatedMs) ? null : new Date(updatedMs),
  }
}

function toPage(body: unknown): UpstreamResult<WorklogPage> {
  const page = v.safeParse(WorklogPageJson, body)
  if (!page.success) {
    return failure('invalid-response', 'Tempo answered with an unexpected page shape.')
  }
  const worklogs: TempoWorklog[] = []
  const invalidIds: string[] = []
  let invalid = 0
  for (const item of page.output.results) {
    const parsed = v.safeParse(WorklogJson, item)
    if (parsed.success) {
      worklogs.push(toWorklog(parsed.output))
    } else {
      invalid += 1
      const id = v.safeParse(WorklogIdJson, item)
      if (id.success) {
        invalidIds.push(String(id.output.tempoWorklogId))
      }
    }
  }
  const next = page.output.metadata.next ?? null
  return { ok: true, value: { worklogs, invalid, invalidIds, next } }
}

/**
 * Whether a `metadata.next` link may be followed with the token: the worklogs path, no credentials
 * in it, on the configured origin (`worklogsUrl`'s) or on one of Tempo's own API hosts over https
 * on the default port.
 * @example nextLinkAllowed(new URL('https://api.eu.tempo.io/4/worklogs?offset=50'), configured) // true
 */
export function nextLinkAllowed(link: URL, worklogsUrl: URL): boolean {
  const tempoHost =
    link.protocol === 'https:' && TEMPO_API_HOSTS.has(link.hostname) && link.port === ''
  return (
    (link.origin === worklogsUrl.origin || tempoHost) &&
    link.pathname.replace(/\/+$/, '') === worklogsUrl.pathname &&
    link.username === '' &&
    link.password === ''
  )
}

// `Date` → Tempo's `yyyy-MM-ddTHH:mm:ssZ` (no milliseconds).
function tempoDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * A client of Tempo's worklog API with Bearer auth and a timeout per request. Failures are data
 * (`UpstreamResult`); transient ones are retried a couple of times in process (short waits only)
 * before they are returned for the job engine's backoff. It throws only the caller's own abort:
 * when `signal` aborts (a lost lease, a cancel, the time budget), the call rethrows its reason.
 * @example
 * const tempo = createTempoClient({ baseUrl: config.tempo.baseUrl, apiToken: config.tempo.apiToken })
 * const first = await tempo.listWorklogs({ from: '2025-01-01', to: '2025-01-30' }, signal)
 * if (first.ok && first.value.next) await tempo.nextPage(first.value.next, signal)
 */
export function createTempoClient(options: TempoClientOptions): TempoClient {
  // With or without the version Tempo documents in its base URLs: `…/4` and `…` both reach /4/worklogs.
  const base = options.baseUrl.replace(/\/+$/, '').replace(/\/4$/, '')
  const worklogsUrl = new URL(`${base}${WORKLOGS_PATH}`)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const now = options.now ?? Date.now
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry }

  async function once(url: URL, signal?: AbortSignal): Promise<UpstreamResult<WorklogPage>> {
    await options.pace?.(signal)
    const timeout = AbortSignal.timeout(timeoutMs)
    let res: Response
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${options.apiToken}`, accept: 'application/json' },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'manual', // a redirect would carry the token to wherever it points
      })
    } catch (err) {
      // The caller's abort (lost lease, cancel, time budget) is not Tempo's failure: pass it on.
      if (signal?.aborted) {
        throw signal.reason
      }
      return timeout.aborted
        ? failure('timeout', `Tempo did not answer within ${timeoutMs} ms.`)
        : failure('network', `Tempo could not be reached (${(err as Error).name}).`)
    }
    if (!res.ok) {
      await res.body?.cancel()
      const failed = statusFailure(res, now())
      if (failed.retryAfterMs !== undefined) {
        await options.onThrottle?.(now() + failed.retryAfterMs)
      }
      return failed
    }
    let body: unknown
    try {
      body = await res.json()
    } catch {
      if (signal?.aborted) {
        throw signal.reason
      }
      return failure('invalid-response', 'Tempo answered with a body that is not JSON.')
    }
    return toPage(body)
  }

  async function get(url: URL, signal?: AbortSignal): Promise<UpstreamResult<WorklogPage>> {
    const result = await withRetries(() => once(url, signal), retry, signal)
    // A failure the caller's abort cut short (between retries) is not Tempo's: pass the reason on,
    // as `once` does.
    if (!result.ok) {
      signal?.throwIfAborted()
    }
    return result
  }

  return {
    listWorklogs(query, signal) {
      const url = new URL(worklogsUrl)
      const params = url.searchParams
      for (const name of ['from', 'to'] as const) {
        const value = query[name]
        if (value !== undefined) {
          params.set(name, value)
        }
      }
      if (query.updatedFrom) {
        params.set('updatedFrom', tempoDateTime(query.updatedFrom))
      }
      for (const id of query.projectIds ?? []) {
        params.append('projectId', id)
      }
      for (const id of query.issueIds ?? []) {
        params.append('issueId', id)
      }
      params.set('offset', String(query.offset ?? 0))
      params.set('limit', String(query.limit ?? DEFAULT_PAGE_SIZE))
      return get(url, signal)
    },
    async nextPage(next, signal) {
      let url: URL
      try {
        url = new URL(next)
      } catch {
        return failure('bad-request', 'The next-page link is not a URL.')
      }
      const elsewhere = !nextLinkAllowed(url, worklogsUrl)
      if (elsewhere) {
        return failure('bad-request', 'Tempo sent a next-page link outside the Tempo API.')
      }
      return get(url, signal)
    },
  }
}
