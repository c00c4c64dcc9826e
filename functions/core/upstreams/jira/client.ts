import * as v from 'valibot'
import {
  type CallOptions,
  DEFAULT_RETRY,
  type RetryPolicy,
  type UpstreamFailure,
  type UpstreamResult,
  withRetries,
} from '#core/upstreams/failure.ts'
import { retryAfterMsOf } from '#core/upstreams/retry-after.ts'
import { failureOf, idsNamedIn, invalid, thrownFailure } from './failures.ts'
import {
  BulkUserSchema,
  type JiraIssue,
  ProjectSchema,
  pageBeanSchema,
  SearchPageSchema,
} from './schemas.ts'

export type { JiraIssue, JiraIssueFields } from './schemas.ts'

/** One page of `search/jql`. */
export type JiraSearchPage = { issues: JiraIssue[]; nextPageToken?: string; isLast: boolean }

/** An issue found by id: its key and its project's key. */
export type JiraIssueRef = { id: string; key: string; projectKey: string }

/** A user of the bulk lookup; `emailAddress` only when Jira shows it. */
export type JiraUserRef = { accountId: string; displayName: string; emailAddress?: string }

/**
 * The Jira Cloud calls the pipelines make (REST v3, Basic auth). Each takes an optional abort
 * signal that ends it, waits for the pace and between retries included, as a `timeout`.
 */
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
  }): Promise<UpstreamResult<JiraSearchPage>>
  /** Every project the account can see (`GET /rest/api/3/project/search`, all pages). */
  listProjects(
    signal?: AbortSignal,
  ): Promise<UpstreamResult<Array<{ id: string; key: string; name: string }>>>
  /**
   * Keys of issues by numeric id, through `search/jql` with `id in (…)` in batches of ≤ 100.
   * Unknown (or non-numeric) ids are simply absent from the result.
   */
  issueKeysByIds(
    ids: readonly string[],
    signal?: AbortSignal,
  ): Promise<UpstreamResult<JiraIssueRef[]>>
  /** Users by account id (`GET /rest/api/3/user/bulk`, batches of 50); unknown ids are absent. */
  usersByAccountIds(
    ids: readonly string[],
    signal?: AbortSignal,
  ): Promise<UpstreamResult<JiraUserRef[]>>
}

/** A Jira client's settings; a rejected `pace` ends the call as a `timeout`. */
export type JiraClientOptions = CallOptions & {
  /** `https://<site>.atlassian.net`, without a trailing slash */
  baseUrl: string
  email: string
  apiToken: string
}

/** Whether Jira refused a `nextPageToken` (expired after 7 days, or no longer matching the query). */
export function isStalePageToken(failure: UpstreamFailure): boolean {
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
  /** Told the body of a 400 before it is mapped, so its messages can be read in full. */
  onRefused?: (body: unknown) => void
}

/**
 * A Jira Cloud REST v3 client over `fetch`. Failures are data (`UpstreamResult`), never throws;
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
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry }
  const authorization = `Basic ${Buffer.from(`${options.email}:${options.apiToken}`).toString('base64')}`

  async function once(call: Call): Promise<UpstreamResult<unknown>> {
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
    if (response.status === 400) {
      call.onRefused?.(body)
    }
    return failureOf(response.status, body, call.path, waitMs)
  }

  // One call, retried in process; a 2xx that does not fit `schema` counts as an outage.
  async function request<S extends v.GenericSchema>(
    call: Call,
    schema: S,
  ): Promise<UpstreamResult<v.InferOutput<S>>> {
    const result = await withRetries(() => once(call), retry, call.signal)
    if (!result.ok) {
      return result
    }
    const parsed = v.safeParse(schema, result.value)
    return parsed.success ? { ok: true, value: parsed.output } : invalid(call.path)
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

  async function listProjects(signal?: AbortSignal) {
    const projects: Array<{ id: string; key: string; name: string }> = []
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({
        startAt: String(projects.length),
        maxResults: String(PROJECT_PAGE),
        orderBy: 'key',
      })
      const result = await request(
        { method: 'GET', path: '/rest/api/3/project/search', query, signal },
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

  // Every issue of `id in (ids)`, all pages; `onRefused` hears the body of a 400 to the first.
  async function issuesOfIds(
    ids: readonly string[],
    signal: AbortSignal | undefined,
    onRefused: (body: unknown) => void,
  ): Promise<UpstreamResult<JiraIssueRef[]>> {
    const found: JiraIssueRef[] = []
    let nextPageToken: string | undefined
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const body = {
        jql: `id in (${ids.join(',')})`,
        fields: ['project'],
        maxResults: ID_BATCH,
        ...(nextPageToken !== undefined && { nextPageToken }),
      }
      const result = await request(
        { method: 'POST', path: SEARCH_PATH, body, signal, ...(page === 0 && { onRefused }) },
        SearchPageSchema,
      )
      if (!result.ok) {
        return result
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
    return { ok: true, value: found }
  }

  // One batch of ids. Jira answers 400 with a message per id it does not know: those are dropped
  // and the rest asked again, so unknown ids are simply absent. A 400 naming none of them is asked
  // again by halves, down to single ids; an id Jira refuses on its own is one it does not know.
  async function keysOfBatch(
    batch: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<UpstreamResult<JiraIssueRef[]>> {
    let remaining = batch
    while (remaining.length > 0) {
      const refused: { body?: unknown } = {}
      const result = await issuesOfIds(remaining, signal, (body) => {
        refused.body = body
      })
      if (result.ok || !('body' in refused)) {
        return result
      }
      const unknown = new Set(idsNamedIn(refused.body, remaining))
      if (unknown.size > 0) {
        remaining = remaining.filter((id) => !unknown.has(id))
      } else if (remaining.length === 1) {
        remaining = []
      } else {
        return keysOfHalves(remaining, signal)
      }
    }
    return { ok: true, value: [] }
  }

  async function keysOfHalves(ids: readonly string[], signal: AbortSignal | undefined) {
    const half = Math.ceil(ids.length / 2)
    const found: JiraIssueRef[] = []
    for (const part of [ids.slice(0, half), ids.slice(half)]) {
      const result = await keysOfBatch(part, signal)
      if (!result.ok) {
        return result
      }
      found.push(...result.value)
    }
    return { ok: true as const, value: found }
  }

  async function issueKeysByIds(ids: readonly string[], signal?: AbortSignal) {
    // Only numeric ids reach the JQL: nothing a caller passes can change the query.
    const wanted = [...new Set(ids.filter((id) => /^\d{1,18}$/.test(id)))]
    const found: JiraIssueRef[] = []
    for (let start = 0; start < wanted.length; start += ID_BATCH) {
      const result = await keysOfBatch(wanted.slice(start, start + ID_BATCH), signal)
      if (!result.ok) {
        return result
      }
      found.push(...result.value)
    }
    return { ok: true as const, value: found }
  }

  async function usersByAccountIds(ids: readonly string[], signal?: AbortSignal) {
    const wanted = [...new Set(ids.filter((id) => id.length > 0 && id.length <= 128))]
    const users: JiraUserRef[] = []
    for (let start = 0; start < wanted.length; start += USER_BATCH) {
      const batch = wanted.slice(start, start + USER_BATCH)
      let startAt = 0
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const query = new URLSearchParams(batch.map((id): [string, string] => ['accountId', id]))
        query.set('startAt', String(startAt))
        query.set('maxResults', String(USER_BATCH))
        const result = await request(
          { method: 'GET', path: '/rest/api/3/user/bulk', query, signal },
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
