import { setTimeout as sleepFor } from 'node:timers/promises'
import * as v from 'valibot'
import { retryAfterMsOf } from '../retry-after.ts'
import { failureOf, invalid, type JiraFailure, type JiraResult, thrownFailure } from './failures.ts'
import {
  BulkUserSchema,
  type JiraIssue,
  ProjectSchema,
  pageBeanSchema,
  SearchPageSchema,
} from './schemas.ts'

export type { JiraFailure, JiraResult } from './failures.ts'
export type { JiraIssue, JiraIssueFields } from './schemas.ts'

/** One page of `search/jql`. */
export type JiraSearchPage = { issues: JiraIssue[]; nextPageToken?: string; isLast: boolean }

/** The Jira Cloud calls the pipelines make (REST v3, Basic auth). */
export type JiraClient = {
  /**
   * One page of `GET /rest/api/3/search/jql`; send the `nextPageToken` of the previous page with
   * the same `jql` and `fields`. A stale token is a `bad-request` (see `isStalePageToken`).
   */
  searchPage(input: {
    jql: string
    fields: readonly string[]
    maxResults?: number
    nextPageToken?: string
    signal?: AbortSignal
  }): Promise<JiraResult<JiraSearchPage>>
  /** Every project the account can see (`GET /rest/api/3/project/search`, all pages). */
  listProjects(): Promise<JiraResult<Array<{ id: string; key: string; name: string }>>>
  /**
   * Keys of issues by numeric id, through `search/jql` with `id in (…)` in batches of ≤ 100.
   * Unknown (or non-numeric) ids are simply absent from the result.
   */
  issueKeysByIds(
    ids: readonly string[],
  ): Promise<JiraResult<Array<{ id: string; key: string; projectKey: string }>>>
  /** Users by account id (`GET /rest/api/3/user/bulk`, batches of 50); unknown ids are absent. */
  usersByAccountIds(
    ids: readonly string[],
  ): Promise<JiraResult<Array<{ accountId: string; displayName: string; emailAddress?: string }>>>
}

/** Quick in-process retries of transient failures, before the job engine's own backoff. */
export type JiraRetryPolicy = {
  /** Retries after the first try (default 2; 0 turns them off). */
  attempts: number
  /** First backoff step in ms, doubled per retry, with jitter (default 500). */
  baseDelayMs: number
  /** A wait longer than this (e.g. a long `Retry-After`) is returned to the caller instead (default 5000). */
  maxWaitMs: number
}

export type JiraClientOptions = {
  /** `https://<site>.atlassian.net`, without a trailing slash */
  baseUrl: string
  email: string
  apiToken: string
  /** per request, default 30 s */
  timeoutMs?: number
  /**
   * Awaited before every request, retries included (shared outbound pacing); it receives the
   * call's abort signal, and a rejection (an abort while waiting) ends the call as a `timeout`.
   */
  pace?: (signal?: AbortSignal) => Promise<unknown>
  /** Told when Jira asks us to wait (429/503 with `Retry-After`): epoch ms until which to hold. */
  onThrottle?: (untilMs: number) => Promise<void> | void
  retry?: Partial<JiraRetryPolicy>
  fetch?: typeof fetch
  now?: () => number
}

const TRANSIENT = new Set<JiraFailure['reason']>([
  'rate-limited',
  'unavailable',
  'timeout',
  'network',
])

/** Whether a failure is worth retrying later. */
export function isTransient(failure: JiraFailure): boolean {
  return TRANSIENT.has(failure.reason)
}

/** Whether Jira refused a `nextPageToken` (expired after 7 days, or no longer matching the query). */
export function isStalePageToken(failure: JiraFailure): boolean {
  return failure.reason === 'bad-request' && /page ?token/i.test(failure.message)
}

const SEARCH_PATH = '/rest/api/3/search/jql'
const ID_BATCH = 100
const USER_BATCH = 50
const PROJECT_PAGE = 100
const MAX_PAGES = 10_000 // a guard against a server that never says "last"

type Call = {
  method: 'GET' | 'POST'
  path: string
  query?: URLSearchParams
  body?: unknown
  signal?: AbortSignal | undefined
}

/**
 * A Jira Cloud REST v3 client over `fetch`. Failures are data (`JiraResult`), never throws;
 * transient ones are retried a couple of times in process before they are returned.
 * @example
 * const jira = createJiraClient({ baseUrl, email, apiToken, pace: () => pacer.acquire('jira') })
 * const page = await jira.searchPage({ jql: 'project = OPS ORDER BY key', fields: ['summary'] })
 */
export function createJiraClient(options: JiraClientOptions): JiraClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const timeoutMs = options.timeoutMs ?? 30_000
  const doFetch = options.fetch ?? globalThis.fetch
  const now = options.now ?? Date.now
  const retry: JiraRetryPolicy = {
    attempts: 2,
    baseDelayMs: 500,
    maxWaitMs: 5000,
    ...options.retry,
  }
  const authorization = `Basic ${Buffer.from(`${options.email}:${options.apiToken}`).toString('base64')}`

  async function once(call: Call): Promise<JiraResult<unknown>> {
    const url = `${baseUrl}${call.path}${call.query ? `?${call.query.toString()}` : ''}`
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
    }
    if (call.body !== undefined) {
      headers['Content-Type'] = 'application/json'
    }
    let response: Response
    let text: string
    try {
      await options.pace?.(call.signal)
      // The time-out starts once the pace lets the call go.
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout
      response = await doFetch(url, {
        method: call.method,
        headers,
        signal,
        ...(call.body !== undefined && { body: JSON.stringify(call.body) }),
      })
      text = await response.text()
    } catch (err) {
      if (call.signal?.aborted) {
        return { ok: false, reason: 'timeout', message: 'The Jira call was stopped by its caller.' }
      }
      return thrownFailure(err, timeoutMs)
    }
    let body: unknown = text
    try {
      body = text === '' ? undefined : JSON.parse(text)
    } catch {
      // not JSON: Jira's 401 is plain text, proxies send HTML
    }
    if (response.ok) {
      return { ok: true, value: body }
    }
    const waitMs =
      response.status === 429 || response.status === 503
        ? retryAfterMsOf(response.headers, now())
        : undefined
    if (waitMs !== undefined) {
      await options.onThrottle?.(now() + waitMs)
    }
    return failureOf(response.status, body, call.path, waitMs)
  }

  async function request<S extends v.GenericSchema>(
    call: Call,
    schema: S,
  ): Promise<JiraResult<v.InferOutput<S>>> {
    for (let attempt = 0; ; attempt += 1) {
      const result = await once(call)
      if (result.ok) {
        const parsed = v.safeParse(schema, result.value)
        return parsed.success ? { ok: true, value: parsed.output } : invalid(call.path)
      }
      if (!isTransient(result) || attempt >= retry.attempts || call.signal?.aborted) {
        return result
      }
      const step = retry.baseDelayMs * 2 ** attempt
      const waitMs = result.retryAfterMs ?? Math.round(step / 2 + Math.random() * (step / 2))
      if (waitMs > retry.maxWaitMs) {
        return result
      }
      try {
        await sleepFor(waitMs, undefined, call.signal ? { signal: call.signal } : {})
      } catch {
        return result // aborted while waiting: the caller is stopping
      }
    }
  }

  async function searchPage(input: Parameters<JiraClient['searchPage']>[0]) {
    const query = new URLSearchParams({ jql: input.jql, fields: input.fields.join(',') })
    query.set('maxResults', String(input.maxResults ?? 100))
    if (input.nextPageToken !== undefined) {
      query.set('nextPageToken', input.nextPageToken)
    }
    const result = await request(
      { method: 'GET', path: SEARCH_PATH, query, signal: input.signal },
      SearchPageSchema,
    )
    if (!result.ok) {
      return result
    }
    const token = result.value.nextPageToken ?? undefined
    // Stop when either signal says so: `isLast`, or no token to continue with.
    const isLast = result.value.isLast === true || token === undefined
    const page: JiraSearchPage = { issues: result.value.issues, isLast }
    if (!isLast && token !== undefined) {
      page.nextPageToken = token
    }
    return { ok: true as const, value: page }
  }

  async function listProjects() {
    const projects: Array<{ id: string; key: string; name: string }> = []
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({
        startAt: String(projects.length),
        maxResults: String(PROJECT_PAGE),
        orderBy: 'key',
      })
      const result = await request(
        { method: 'GET', path: '/rest/api/3/project/search', query },
        pageBeanSchema(ProjectSchema),
      )
      if (!result.ok) {
        return result
      }
      for (const { id, key, name } of result.value.values) {
        projects.push({ id, key, name })
      }
      if (result.value.isLast !== false || result.value.values.length === 0) {
        break
      }
    }
    return { ok: true as const, value: projects }
  }

  // One batch of `id in (…)`. Jira answers 400 naming an id it does not know; such ids are dropped
  // and the batch asked again, so unknown ids are simply absent.
  async function keysOfBatch(batch: string[]) {
    const found: Array<{ id: string; key: string; projectKey: string }> = []
    let remaining = batch
    let nextPageToken: string | undefined
    for (let round = 0; remaining.length > 0 && round < MAX_PAGES; round += 1) {
      const body = {
        jql: `id in (${remaining.join(',')})`,
        fields: ['project'],
        maxResults: ID_BATCH,
        ...(nextPageToken !== undefined && { nextPageToken }),
      }
      const result = await request({ method: 'POST', path: SEARCH_PATH, body }, SearchPageSchema)
      if (!result.ok) {
        const unknown =
          result.reason === 'bad-request' && nextPageToken === undefined
            ? remaining.filter((id) => result.message.includes(`'${id}'`))
            : []
        if (unknown.length === 0) {
          return result
        }
        remaining = remaining.filter((id) => !unknown.includes(id))
        continue
      }
      for (const issue of result.value.issues) {
        const projectKey = issue.fields?.project?.key ?? issue.key.split('-')[0] ?? ''
        found.push({ id: issue.id, key: issue.key, projectKey })
      }
      nextPageToken = result.value.nextPageToken ?? undefined
      if (result.value.isLast !== false || nextPageToken === undefined) {
        break
      }
    }
    return { ok: true as const, value: found }
  }

  async function issueKeysByIds(ids: readonly string[]) {
    // Only numeric ids reach the JQL: nothing a caller passes can change the query.
    const wanted = [...new Set(ids.filter((id) => /^\d{1,18}$/.test(id)))]
    const found: Array<{ id: string; key: string; projectKey: string }> = []
    for (let start = 0; start < wanted.length; start += ID_BATCH) {
      const result = await keysOfBatch(wanted.slice(start, start + ID_BATCH))
      if (!result.ok) {
        return result
      }
      found.push(...result.value)
    }
    return { ok: true as const, value: found }
  }

  async function usersByAccountIds(ids: readonly string[]) {
    const wanted = [...new Set(ids.filter((id) => id.length > 0 && id.length <= 128))]
    const users: Array<{ accountId: string; displayName: string; emailAddress?: string }> = []
    for (let start = 0; start < wanted.length; start += USER_BATCH) {
      const batch = wanted.slice(start, start + USER_BATCH)
      let startAt = 0
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const query = new URLSearchParams(batch.map((id): [string, string] => ['accountId', id]))
        query.set('startAt', String(startAt))
        query.set('maxResults', String(USER_BATCH))
        const result = await request(
          { method: 'GET', path: '/rest/api/3/user/bulk', query },
          pageBeanSchema(BulkUserSchema),
        )
        if (!result.ok) {
          return result
        }
        for (const user of result.value.values) {
          users.push({
            accountId: user.accountId,
            displayName: user.displayName,
            ...(user.emailAddress && { emailAddress: user.emailAddress }),
          })
        }
        startAt += result.value.values.length
        if (result.value.isLast !== false || result.value.values.length === 0) {
          break
        }
      }
    }
    return { ok: true as const, value: users }
  }

  return { searchPage, listProjects, issueKeysByIds, usersByAccountIds }
}
