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
import { failureOf, idsNamedIn, invalid, keysNamedIn, thrownFailure } from './failures.ts'
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

/** An issue found by id: its key, its project's key and id, and its `updated` when asked for. */
export type JiraIssueRef = {
  id: string
  key: string
  projectKey: string
  projectId?: string
}

/** A project: its id, its key now, and every key it is known by (the current one first). */
export type JiraProjectRef = { id: string; key: string; name: string; keys: string[] }

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
  /**
   * Every project the account can see (`GET /rest/api/3/project/search`, all pages), with the
   * keys each was ever known by (`expand=projectKeys`).
   */
  listProjects(signal?: AbortSignal): Promise<UpstreamResult<JiraProjectRef[]>>
  /**
   * One project by id or key (`GET /rest/api/3/project/{idOrKey}?expand=projectKeys`); Jira
   * resolves a former key to the project that carries it now. Unknown: `not-found`.
   */
  getProject(idOrKey: string, signal?: AbortSignal): Promise<UpstreamResult<JiraProjectRef>>
  /**
   * Issues by key with the given fields, through `search/jql` with `key in (…)` in batches of
   * ≤ 100. Jira resolves former keys, so a re-keyed issue comes back under its key now; keys Jira
   * does not know are simply absent.
   */
  issuesByKeys(
    keys: readonly string[],
    fields: readonly string[],
    signal?: AbortSignal,
  ): Promise<UpstreamResult<JiraIssue[]>>
  /** Issues by numeric id with the given fields (`id in (…)`, batches of ≤ 100); unknown ids are absent. */
  issuesByIds(
    ids: readonly string[],
    fields: readonly string[],
    signal?: AbortSignal,
  ): Promise<UpstreamResult<JiraIssue[]>>
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

/** The most issues `search/jql` serves a page when it returns real fields (5000 for ids and keys). */
export const MAX_SEARCH_PAGE = 100

const SEARCH_PATH = '/rest/api/3/search/jql'

/**
 * The endpoint family a call is paced under: Jira's burst limits count each endpoint and method on
 * its own, and every bulk read goes through `search/jql` (pages, key scans, issues by id or key).
 */
type JiraEndpoint = 'search' | 'other'

function endpointOf(path: string): JiraEndpoint {
  return path === SEARCH_PATH ? 'search' : 'other'
}

const ID_BATCH = 100
const USER_BATCH = 50
const PROJECT_PAGE = 100
const MAX_PAGES = 10_000 // a guard against a server that never says "last"

// An issue key: a project key, a dash, a number.
const ISSUE_KEY = /^[A-Z][A-Z0-9_]*-\d{1,18}$/

// How one kind of `<field> in (…)` lookup is written and how Jira's 400 names what it lacks.
type Lookup = {
  field: 'id' | 'key'
  quote: (value: string) => string
  named: (body: unknown, values: readonly string[]) => string[]
  fields: readonly string[]
}

function truncated(path: string): UpstreamFailure {
  return {
    ok: false,
    reason: 'invalid-response',
    message: `Jira answered ${path} with a page that is not the last but has no token to continue.`,
  }
}

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
 * const jira = createJiraClient({ baseUrl, email, apiToken, pace: (signal, endpoint) => pacer.acquire(endpoint === 'search' ? 'jira-search' : 'jira', signal) })
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
      await options.pace?.(call.signal, endpointOf(call.path))
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
      await options.onThrottle?.(now() + waitMs, endpointOf(call.path))
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
    query.set('maxResults', String(input.maxResults ?? MAX_SEARCH_PAGE))
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
    // Only `isLast: true` ends a scan: a page that is not the last but carries no token was cut
    // short, and reading it as complete would make every issue past it look deleted.
    const isLast = result.value.isLast === true
    if (!isLast && token === undefined) {
      return truncated(SEARCH_PATH)
    }
    const page: JiraSearchPage = { issues: result.value.issues, isLast }
    if (!isLast && token !== undefined) {
      page.nextPageToken = token
    }
    return { ok: true as const, value: page }
  }

  function projectRef(project: v.InferOutput<typeof ProjectSchema>): JiraProjectRef {
    const keys = [project.key, ...(project.projectKeys ?? []).filter((k) => k !== project.key)]
    return { id: project.id, key: project.key, name: project.name, keys }
  }

  async function listProjects(signal?: AbortSignal) {
    const projects: JiraProjectRef[] = []
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({
        startAt: String(projects.length),
        maxResults: String(PROJECT_PAGE),
        orderBy: 'key',
        expand: 'projectKeys',
      })
      const result = await request(
        { method: 'GET', path: '/rest/api/3/project/search', query, signal },
        pageBeanSchema(ProjectSchema),
      )
      if (!result.ok) {
        return result
      }
      projects.push(...result.value.values.map(projectRef))
      if (result.value.isLast !== false || result.value.values.length === 0) {
        break
      }
    }
    return { ok: true as const, value: projects }
  }

  async function getProject(idOrKey: string, signal?: AbortSignal) {
    const query = new URLSearchParams({ expand: 'projectKeys' })
    const path = `/rest/api/3/project/${encodeURIComponent(idOrKey)}`
    const result = await request({ method: 'GET', path, query, signal }, ProjectSchema)
    return result.ok ? { ok: true as const, value: projectRef(result.value) } : result
  }

  // Every issue of `<field> in (values)`, all pages; `onRefused` hears the body of a 400 to the first.
  async function issuesIn(
    lookup: Lookup,
    values: readonly string[],
    signal: AbortSignal | undefined,
    onRefused: (body: unknown) => void,
  ): Promise<UpstreamResult<JiraIssue[]>> {
    const found: JiraIssue[] = []
    let nextPageToken: string | undefined
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const body = {
        jql: `${lookup.field} in (${values.map(lookup.quote).join(',')})`,
        fields: lookup.fields,
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
      found.push(...result.value.issues)
      if (result.value.isLast === true) {
        return { ok: true, value: found }
      }
      nextPageToken = result.value.nextPageToken ?? undefined
      if (nextPageToken === undefined) {
        return truncated(SEARCH_PATH)
      }
    }
    return { ok: true, value: found }
  }

  // One batch. Jira answers 400 with a message per value it does not know: those are dropped and
  // the rest asked again, so unknown values are simply absent. A 400 naming none of them is asked
  // again by halves, down to single values; a value Jira refuses on its own is one it does not know.
  async function batchOf(
    lookup: Lookup,
    batch: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<UpstreamResult<JiraIssue[]>> {
    let remaining = batch
    while (remaining.length > 0) {
      const refused: { body?: unknown } = {}
      const result = await issuesIn(lookup, remaining, signal, (body) => {
        refused.body = body
      })
      if (result.ok || !('body' in refused)) {
        return result
      }
      const unknown = new Set(lookup.named(refused.body, remaining))
      if (unknown.size > 0) {
        remaining = remaining.filter((value) => !unknown.has(value))
      } else if (remaining.length === 1) {
        remaining = []
      } else {
        const half = Math.ceil(remaining.length / 2)
        const found: JiraIssue[] = []
        for (const part of [remaining.slice(0, half), remaining.slice(half)]) {
          const partResult = await batchOf(lookup, part, signal)
          if (!partResult.ok) {
            return partResult
          }
          found.push(...partResult.value)
        }
        return { ok: true, value: found }
      }
    }
    return { ok: true, value: [] }
  }

  async function lookUp(
    lookup: Lookup,
    values: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<UpstreamResult<JiraIssue[]>> {
    const wanted = [...new Set(values)]
    const found: JiraIssue[] = []
    for (let start = 0; start < wanted.length; start += ID_BATCH) {
      const result = await batchOf(lookup, wanted.slice(start, start + ID_BATCH), signal)
      if (!result.ok) {
        return result
      }
      found.push(...result.value)
    }
    return { ok: true as const, value: found }
  }

  function issuesByIds(ids: readonly string[], fields: readonly string[], signal?: AbortSignal) {
    // Only numeric ids reach the JQL: nothing a caller passes can change the query.
    const numeric = ids.filter((id) => /^\d{1,18}$/.test(id))
    return lookUp({ field: 'id', quote: String, named: idsNamedIn, fields }, numeric, signal)
  }

  function issuesByKeys(keys: readonly string[], fields: readonly string[], signal?: AbortSignal) {
    // Only issue keys reach the JQL, quoted.
    const valid = keys.map((key) => key.toUpperCase()).filter((key) => ISSUE_KEY.test(key))
    const quote = (key: string) => `"${key}"`
    return lookUp({ field: 'key', quote, named: keysNamedIn, fields }, valid, signal)
  }

  async function issueKeysByIds(ids: readonly string[], signal?: AbortSignal) {
    const found = await issuesByIds(ids, ['project'], signal)
    if (!found.ok) {
      return found
    }
    return {
      ok: true as const,
      value: found.value.map((issue): JiraIssueRef => {
        const project = issue.fields?.project
        return {
          id: issue.id,
          key: issue.key,
          projectKey: project?.key ?? issue.key.split('-')[0] ?? '',
          ...(project?.id && { projectId: project.id }),
        }
      }),
    }
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

  return {
    searchPage,
    listProjects,
    getProject,
    issuesByKeys,
    issuesByIds,
    issueKeysByIds,
    usersByAccountIds,
  }
}
