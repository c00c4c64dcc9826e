import { setTimeout as sleepFor } from 'node:timers/promises'
import * as v from 'valibot'
import { retryAfterMsOf } from '../retry-after.ts'
import { WorklogJson, WorklogPageJson } from './schemas.ts'

/** Why a Tempo call did not give a page. `invalid-response`: a 2xx whose body is not Tempo's shape. */
export type TempoFailureReason =
  | 'rate-limited'
  | 'unavailable'
  | 'timeout'
  | 'network'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'bad-request'
  | 'invalid-response'

/** A failed call: `retryAfterMs` comes with `rate-limited` (≥ 1 s) and with a 5xx that sent `Retry-After`. */
export type TempoFailure = {
  ok: false
  reason: TempoFailureReason
  status?: number
  retryAfterMs?: number
  /** one sentence for a person; never the token or Tempo's body */
  message: string
}

/** The outcome of a Tempo call; callers branch on `ok`, then on `reason`. */
export type TempoResult<T> = { ok: true; value: T } | TempoFailure

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

/** One page: the worklogs that parsed, how many items did not, and the next page's URL. */
export type WorklogPage = { worklogs: TempoWorklog[]; invalid: number; next: string | null }

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

/** The Tempo Cloud REST v4 calls the pipeline makes. */
export type TempoClient = {
  /** The first page of worklogs matching `query`. */
  listWorklogs(query: WorklogQuery, signal?: AbortSignal): Promise<TempoResult<WorklogPage>>
  /**
   * The page at a `next` URL of an earlier page. Refused (`bad-request`, no request made) unless
   * it points at the configured Tempo origin and path: the token is never sent elsewhere.
   */
  nextPage(next: string, signal?: AbortSignal): Promise<TempoResult<WorklogPage>>
}

/** Quick in-process retries of transient failures, before the job engine's own backoff. */
export type TempoRetryPolicy = {
  /** Retries after the first try (default 2; 0 turns them off). */
  attempts: number
  /** First backoff step in ms, doubled per retry, with jitter (default 500). */
  baseDelayMs: number
  /** A longer wait (e.g. a long `Retry-After`) is returned to the caller instead (default 5000). */
  maxWaitMs: number
}

/** What a Tempo client needs. */
export type TempoClientOptions = {
  /** e.g. `https://api.tempo.io` */
  baseUrl: string
  apiToken: string
  /** per request, in ms (default 30 000) */
  timeoutMs?: number
  /** Awaited before every request, retries included (the shared outbound budget). */
  pace?: (signal?: AbortSignal) => Promise<void>
  /** Told when Tempo asks us to wait (429, or 5xx with `Retry-After`): epoch ms to hold until. */
  onThrottle?: (untilMs: number) => Promise<void> | void
  retry?: Partial<TempoRetryPolicy>
  now?: () => number
}

/** Tempo's page size when a query sets none: large pages, few requests (Tempo allows 5000). */
export const DEFAULT_PAGE_SIZE = 1000
const DEFAULT_TIMEOUT_MS = 30_000
// Tempo asks clients to wait at least a second after a 429, with or without `Retry-After`.
const MIN_RATE_LIMIT_WAIT_MS = 1000
const WORKLOGS_PATH = '/4/worklogs'

function failure(reason: TempoFailureReason, message: string, extra: Partial<TempoFailure> = {}) {
  return { ok: false as const, reason, message, ...extra }
}

function statusFailure(res: Response, nowMs: number): TempoFailure {
  const status = res.status
  const after = retryAfterMsOf(res.headers, nowMs)
  if (status === 429) {
    const wait = Math.max(after ?? 0, MIN_RATE_LIMIT_WAIT_MS)
    return failure('rate-limited', 'Tempo is rate limiting requests.', {
      status,
      retryAfterMs: wait,
    })
  }
  if (status >= 500) {
    return failure('unavailable', `Tempo is unavailable (HTTP ${status}).`, {
      status,
      ...(after !== undefined && { retryAfterMs: after }),
    })
  }
  if (status === 401) {
    return failure('unauthorized', 'Tempo did not accept the API token (HTTP 401).', { status })
  }
  if (status === 403) {
    return failure('forbidden', 'The Tempo API token may not read worklogs (HTTP 403).', {
      status,
    })
  }
  if (status === 404) {
    return failure('not-found', 'Tempo has no such resource (HTTP 404).', { status })
  }
  return failure('bad-request', `Tempo refused the request (HTTP ${status}).`, { status })
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

function toPage(body: unknown): TempoResult<WorklogPage> {
  const page = v.safeParse(WorklogPageJson, body)
  if (!page.success) {
    return failure('invalid-response', 'Tempo answered with an unexpected page shape.')
  }
  const worklogs: TempoWorklog[] = []
  let invalid = 0
  for (const item of page.output.results) {
    const parsed = v.safeParse(WorklogJson, item)
    if (parsed.success) {
      worklogs.push(toWorklog(parsed.output))
    } else {
      invalid += 1
    }
  }
  return { ok: true, value: { worklogs, invalid, next: page.output.metadata.next ?? null } }
}

/** `Date` → Tempo's `yyyy-MM-ddTHH:mm:ssZ` (no milliseconds). */
export function tempoDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

const TRANSIENT = new Set<TempoFailureReason>([
  'rate-limited',
  'unavailable',
  'timeout',
  'network',
  'invalid-response',
])

/** Whether a failure is worth trying again later (the others need a person). */
export function isTransient(failure: TempoFailure): boolean {
  return TRANSIENT.has(failure.reason)
}

/**
 * A client of Tempo's worklog API with Bearer auth and a timeout per request. Failures are data
 * (`TempoResult`), never throws; transient ones are retried a couple of times in process (short
 * waits only) before they are returned for the job engine's backoff.
 * @example
 * const tempo = createTempoClient({ baseUrl: config.tempo.baseUrl, apiToken: config.tempo.apiToken })
 * const first = await tempo.listWorklogs({ from: '2025-01-01', to: '2025-01-30' }, signal)
 * if (first.ok && first.value.next) await tempo.nextPage(first.value.next, signal)
 */
export function createTempoClient(options: TempoClientOptions): TempoClient {
  const worklogsUrl = new URL(`${options.baseUrl.replace(/\/+$/, '')}${WORKLOGS_PATH}`)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const now = options.now ?? Date.now
  const retry: TempoRetryPolicy = {
    attempts: 2,
    baseDelayMs: 500,
    maxWaitMs: 5000,
    ...options.retry,
  }

  async function once(url: URL, signal?: AbortSignal): Promise<TempoResult<WorklogPage>> {
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

  async function get(url: URL, signal?: AbortSignal): Promise<TempoResult<WorklogPage>> {
    for (let attempt = 0; ; attempt += 1) {
      const result = await once(url, signal)
      if (result.ok || !isTransient(result) || attempt >= retry.attempts) {
        return result
      }
      const step = retry.baseDelayMs * 2 ** attempt
      const waitMs = result.retryAfterMs ?? Math.round(step / 2 + Math.random() * (step / 2))
      if (waitMs > retry.maxWaitMs) {
        return result
      }
      // Only an abort ends the sleep early: pass the caller's reason on, as `once` does.
      await sleepFor(waitMs, undefined, signal ? { signal } : {}).catch(() =>
        signal?.throwIfAborted(),
      )
    }
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
      const elsewhere =
        url.origin !== worklogsUrl.origin ||
        url.pathname.replace(/\/+$/, '') !== worklogsUrl.pathname ||
        url.username !== '' ||
        url.password !== ''
      if (elsewhere) {
        return failure('bad-request', 'Tempo sent a next-page link outside the Tempo API.')
      }
      return get(url, signal)
    },
  }
}
