import {
  type JiraIssue,
  type JiraIssueFields,
  type JiraProject,
  type JiraUser,
  jiraTimestamp,
} from './jira-data.ts'
import { createDirectoryRoutes } from './jira-directory.ts'
import { createSearchRoutes, jiraError, projectIssue, type SearchPageHook } from './jira-search.ts'
import {
  type FakeResponse,
  type FakeServer,
  type FaultRule,
  type RecordedRequest,
  startFakeServer,
} from './server.ts'

/** Options for `startFakeJira`. */
export type FakeJiraOptions = {
  /** the Basic-auth user (default `fake@example.com`) */
  email?: string
  /** the Basic-auth password (default `fake-jira-token`) */
  apiToken?: string
  port?: number
  /** the fake's clock until `setNow` (default `FAKE_JIRA_DEFAULT_NOW`) */
  now?: Date | string
}

/** A scripted 429 or 503; `path` defaults to the search route, `times` to 1. */
export type JiraOverloadFault = {
  times?: number
  /** `Retry-After` in seconds (default 1); null sends none. The reset is that far ahead, to the minute. */
  retryAfterSeconds?: number | null
  method?: string
  path?: string | RegExp
  /** `RateLimit-Reason` on a 429 (default `jira-burst-based`) */
  reason?: string
}

/** A running fake Jira Cloud (REST v3, the calls the backfills make) and the knobs tests turn. */
export type FakeJira = FakeServer & {
  email: string
  apiToken: string
  /** Replaces the explicit projects; projects referenced by issues exist implicitly as well. */
  setProjects(projects: readonly JiraProject[]): void
  /** Replaces every issue (copies them), with no search lag. @throws on a duplicate id or key */
  setIssues(issues: readonly JiraIssue[]): void
  /**
   * Replaces every issue without copying them or checking for duplicates: for data sets of a
   * hundred thousand issues, whose objects may share nested values. The caller must not change them.
   */
  loadIssues(issues: readonly JiraIssue[]): void
  /** Adds an issue (subject to search lag). @throws on a duplicate id or key */
  addIssue(issue: JiraIssue): JiraIssue
  /** Merges `patch` into the fields and sets `updated` to the fake's now unless the patch sets it. */
  updateIssue(key: string, patch: Partial<JiraIssueFields>): JiraIssue
  /** Removes an issue: search, GET and JQL `key in (…)` stop knowing it. */
  deleteIssue(key: string): void
  /** A copy of the stored issues, by id. */
  issues(): JiraIssue[]
  /** Replaces the explicit users; assignees and reporters of issues exist implicitly as well. */
  setUsers(users: readonly JiraUser[]): void
  /** Runs before each search page is evaluated, so a test can change data while a client pages. */
  onSearchPage(hook: SearchPageHook | undefined): void
  /** Search misses adds and updates younger than `ms` (fake clock) unless listed in `reconcileIssues`. */
  setSearchLag(ms: number): void
  /** Invalidates every `nextPageToken` issued so far. */
  expireSearchTokens(): void
  /**
   * Renames a project's key, as Jira does: every issue gets the new key (same id and number,
   * `updated` unchanged); the old key keeps resolving in JQL (`project = OLD`, `key in (OLD-7)`),
   * in `GET issue/OLD-7` and `GET project/OLD`, and is listed in `projectKeys`.
   */
  renameProject(from: string, to: string): void
  /** Moves an issue to another project under the next free number there, bumping `updated`. */
  moveIssue(key: string, toProject: string): JiraIssue
  /** The next `times` search pages that have more to come end without a token (`isLast: false`). */
  truncateSearch(times?: number): void
  /** Next `times` matching requests get Jira's 429 with `Retry-After`, `X-RateLimit-*`, `RateLimit-Reason`. */
  rateLimit(fault?: JiraOverloadFault): void
  /** Next `times` matching requests get 503 with `Retry-After`. */
  unavailable(fault?: JiraOverloadFault): void
  setNow(date: Date | string): void
  /** Back to a fresh fake: no data, faults, hooks, tokens or requests; default clock. */
  reset(): void
}

/** The fake's clock until `setNow`; fixed so `updated` bumps repeat run to run. */
export const FAKE_JIRA_DEFAULT_NOW = '2025-06-30T12:00:00.000Z'

const SEARCH_PATH = '/rest/api/3/search/jql'
const LEGACY_PATHS = new Set(
  ['3', '2'].flatMap((v) =>
    ['search', 'search/id', 'expression/eval'].map((p) => `/rest/api/${v}/${p}`),
  ),
)
const GONE =
  'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046'

function copy<T>(value: T): T {
  return structuredClone(value)
}

function toDate(value: Date | string): Date {
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) {
    throw new Error(`fake Jira cannot set its clock to ${String(value)}`)
  }
  return date
}

/**
 * Starts a fake Jira Cloud on 127.0.0.1: Basic auth, `search/jql` token paging over a JQL subset,
 * issues, projects and users, the 410 of the removed search API, and Jira-shaped overload faults.
 * @example const jira = await startFakeJira(); jira.setIssues([aJiraIssue({ key: 'OPS-1' })])
 */
export async function startFakeJira(options: FakeJiraOptions = {}): Promise<FakeJira> {
  const email = options.email ?? 'fake@example.com'
  const apiToken = options.apiToken ?? 'fake-jira-token'
  const credentials = `${email}:${apiToken}`
  let now = toDate(options.now ?? FAKE_JIRA_DEFAULT_NOW)
  let baseUrl = ''
  const stored = new Map<string, JiraIssue>()
  const idsByKey = new Map<string, string>() // upper-case key → id; Jira keys are case-insensitive
  const explicitProjects = new Map<string, JiraProject>()
  const explicitUsers = new Map<string, JiraUser>()
  const pending = new Map<string, { before: JiraIssue | undefined; at: number }>()
  const formerProjectKeys = new Map<string, string>() // upper-case former key → project id
  const formerIssueKeys = new Map<string, string>() // upper-case former issue key → issue id
  let lagMs = 0
  let version = 0 // bumped by every change the search can see

  function find(idOrKey: string): JiraIssue | undefined {
    const upper = idOrKey.toUpperCase()
    return (
      stored.get(idOrKey) ??
      stored.get(idsByKey.get(upper) ?? '') ??
      stored.get(formerIssueKeys.get(upper) ?? '')
    )
  }

  // A project with every key it had: the current one first.
  function projectKeysOf(project: JiraProject): string[] {
    const former = [...formerProjectKeys].filter(([, id]) => id === project.id).map(([k]) => k)
    return [project.key, ...former.filter((key) => key !== project.key)]
  }

  // Read on every search page: kept until the data changes (every change bumps `version`).
  let projectsSeen: { version: number; projects: JiraProject[] } | undefined
  function projects(): JiraProject[] {
    if (projectsSeen?.version !== version) {
      projectsSeen = { version, projects: projectsNow() }
    }
    return projectsSeen.projects
  }

  function projectsNow(): JiraProject[] {
    const all = new Map(explicitProjects)
    for (const issue of stored.values()) {
      const { id, key, name } = issue.fields.project
      if (!all.has(key)) {
        all.set(key, { id, key, name })
      }
    }
    return [...all.values()].sort((a, b) => a.key.localeCompare(b.key))
  }

  function users(): Map<string, JiraUser> {
    const all = new Map<string, JiraUser>()
    for (const issue of stored.values()) {
      for (const user of [issue.fields.assignee, issue.fields.reporter]) {
        if (user) {
          all.set(user.accountId, user)
        }
      }
    }
    return new Map([...all, ...explicitUsers])
  }

  const directory = createDirectoryRoutes({
    baseUrl: () => baseUrl,
    projects,
    users,
    projectKeysOf,
    formerProjectId: (key) => formerProjectKeys.get(key.toUpperCase()),
  })
  const search = createSearchRoutes({
    version: () => version,
    aliases: () => ({ projects: formerProjectKeys, issues: formerIssueKeys }),
    now: () => now.getTime(),
    baseUrl: () => baseUrl,
    allIssues: () => [...stored.values()],
    projects,
    searchView(reconcile) {
      return [...stored.values()].flatMap((issue) => {
        const change = pending.get(issue.id)
        const lagging = change && now.getTime() - change.at < lagMs && !reconcile.has(issue.id)
        return lagging ? (change.before ? [change.before] : []) : [issue]
      })
    },
  })

  function route(req: RecordedRequest): FakeResponse | Promise<FakeResponse> {
    const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path
    const get = req.method === 'GET'
    if (LEGACY_PATHS.has(path)) {
      return jiraError(410, GONE)
    }
    if (path === SEARCH_PATH && (get || req.method === 'POST')) {
      return search.search(req)
    }
    if (path === '/rest/api/3/search/approximate-count' && req.method === 'POST') {
      return search.approximateCount(req)
    }
    const issueMatch = /^\/rest\/api\/3\/issue\/([^/]+)$/.exec(path)
    if (issueMatch?.[1] && get) {
      const issue = find(decodeURIComponent(issueMatch[1]))
      if (!issue) {
        return jiraError(404, 'Issue does not exist or you do not have permission to see it.')
      }
      const fields = (req.query.get('fields') ?? '*all').split(',').map((f) => f.trim())
      return {
        status: 200,
        // 'key' keeps the full shape: GET issue never answers with the bare `{ id }` search gives.
        body: projectIssue(issue, [...fields, 'key'], baseUrl),
      }
    }
    return (
      directory(req, path) ??
      jiraError(404, `The fake Jira has no route for ${req.method} ${req.path}.`)
    )
  }

  const server = await startFakeServer((req) => {
    const header = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')
    if (!header?.[1] || Buffer.from(header[1], 'base64').toString('utf8') !== credentials) {
      // Jira answers a bad Basic login in plain text, not in its JSON error shape.
      return {
        status: 401,
        headers: {
          'www-authenticate': 'Basic realm="protected-area"',
          'x-seraph-loginreason': 'AUTHENTICATED_FAILED',
        },
        body: 'Client must be authenticated to access this resource.',
      }
    }
    return route(req)
  }, options.port)
  baseUrl = server.url

  function store(issue: JiraIssue) {
    if (stored.has(issue.id) || find(issue.key)) {
      throw new Error(`fake Jira already has an issue with id ${issue.id} or key ${issue.key}`)
    }
    stored.set(issue.id, copy(issue))
    idsByKey.set(issue.key.toUpperCase(), issue.id)
  }

  function existing(key: string): JiraIssue {
    const issue = find(key)
    if (!issue) {
      throw new Error(`fake Jira has no issue ${key}`)
    }
    return issue
  }

  function overload(status: 429 | 503, fault: JiraOverloadFault): FaultRule {
    const retryAfter = fault.retryAfterSeconds === undefined ? 1 : fault.retryAfterSeconds
    const headers: Record<string, string> =
      retryAfter === null ? {} : { 'retry-after': String(retryAfter) }
    if (status === 429) {
      // ISO 8601 to the minute, as Jira sends it: with a short wait, often a minute already past.
      headers['x-ratelimit-reset'] =
        `${new Date(now.getTime() + (retryAfter ?? 0) * 1000).toISOString().slice(0, 16)}Z`
      headers['x-ratelimit-limit'] = '100'
      headers['x-ratelimit-remaining'] = '0'
      headers['ratelimit-reason'] = fault.reason ?? 'jira-burst-based'
    }
    const message = status === 429 ? 'Rate limit exceeded.' : 'Service Unavailable'
    return {
      kind: 'respond',
      status,
      headers,
      body: { errorMessages: [message], errors: {} },
      times: fault.times ?? 1,
      path: fault.path ?? SEARCH_PATH,
      ...(fault.method !== undefined && { method: fault.method }),
    }
  }

  return {
    ...server,
    email,
    apiToken,
    setProjects(list) {
      version += 1
      explicitProjects.clear()
      for (const project of list) {
        explicitProjects.set(project.key, copy(project))
      }
    },
    setIssues(list) {
      version += 1
      stored.clear()
      idsByKey.clear()
      pending.clear()
      for (const issue of list) {
        store(issue)
      }
    },
    loadIssues(list) {
      version += 1
      stored.clear()
      idsByKey.clear()
      pending.clear()
      for (const issue of list) {
        stored.set(issue.id, issue)
        idsByKey.set(issue.key.toUpperCase(), issue.id)
      }
    },
    addIssue(issue) {
      version += 1
      store(issue)
      pending.set(issue.id, { before: undefined, at: now.getTime() })
      return copy(issue)
    },
    updateIssue(key, patch) {
      version += 1
      const before = existing(key)
      const updated = {
        ...before,
        fields: { ...before.fields, updated: jiraTimestamp(now), ...copy(patch) },
      }
      stored.set(before.id, updated)
      // While an earlier change still lags, search keeps showing the version before that one.
      const prior = pending.get(before.id)
      const lagging = prior !== undefined && now.getTime() - prior.at < lagMs
      pending.set(before.id, { before: lagging ? prior.before : before, at: now.getTime() })
      return copy(updated)
    },
    deleteIssue(key) {
      version += 1
      const issue = existing(key)
      stored.delete(issue.id)
      idsByKey.delete(issue.key.toUpperCase())
      pending.delete(issue.id)
    },
    issues() {
      return [...stored.values()].map(copy)
    },
    setUsers(list) {
      explicitUsers.clear()
      for (const user of list) {
        explicitUsers.set(user.accountId, copy(user))
      }
    },
    onSearchPage(hook) {
      search.setHook(hook)
    },
    setSearchLag(ms) {
      version += 1
      lagMs = ms
    },
    expireSearchTokens() {
      search.expireTokens()
    },
    renameProject(from, to) {
      version += 1
      const project = projects().find((p) => p.key === from.toUpperCase())
      if (!project || projects().some((p) => p.key === to)) {
        throw new Error(`fake Jira cannot rename ${from} to ${to}`)
      }
      const renamed = { ...project, key: to }
      explicitProjects.delete(project.key)
      explicitProjects.set(to, renamed)
      formerProjectKeys.set(project.key, project.id)
      for (const issue of [...stored.values()]) {
        if (issue.fields.project.id !== project.id) {
          continue
        }
        const key = `${to}-${issue.key.slice(issue.key.indexOf('-') + 1)}`
        formerIssueKeys.set(issue.key.toUpperCase(), issue.id)
        idsByKey.delete(issue.key.toUpperCase())
        idsByKey.set(key.toUpperCase(), issue.id)
        stored.set(issue.id, { ...issue, key, fields: { ...issue.fields, project: renamed } })
      }
      version += 1 // the project list read above is stale now
    },
    moveIssue(key, toProject) {
      version += 1
      const before = existing(key)
      const target = projects().find((p) => p.key === toProject)
      if (!target) {
        throw new Error(`fake Jira has no project ${toProject}`)
      }
      const numbers = [...stored.values()]
        .filter((issue) => issue.fields.project.id === target.id)
        .map((issue) => Number(issue.key.slice(issue.key.indexOf('-') + 1)))
      const moved: JiraIssue = {
        ...before,
        key: `${target.key}-${Math.max(0, ...numbers) + 1}`,
        fields: { ...before.fields, project: target, updated: jiraTimestamp(now) },
      }
      formerIssueKeys.set(before.key.toUpperCase(), before.id)
      idsByKey.delete(before.key.toUpperCase())
      idsByKey.set(moved.key.toUpperCase(), before.id)
      stored.set(before.id, moved)
      version += 1 // the project list read above is stale now
      return copy(moved)
    },
    truncateSearch(times = 1) {
      search.truncate(times)
    },
    rateLimit(fault = {}) {
      server.fail(overload(429, fault))
    },
    unavailable(fault = {}) {
      server.fail(overload(503, fault))
    },
    setNow(date) {
      version += 1
      now = toDate(date)
    },
    reset() {
      version += 1
      stored.clear()
      idsByKey.clear()
      pending.clear()
      explicitProjects.clear()
      explicitUsers.clear()
      formerProjectKeys.clear()
      formerIssueKeys.clear()
      search.truncate(0)
      lagMs = 0
      now = toDate(options.now ?? FAKE_JIRA_DEFAULT_NOW)
      search.setHook(undefined)
      search.expireTokens()
      server.clearFaults()
      server.requests.length = 0
    },
  }
}
