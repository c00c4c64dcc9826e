import type { JiraIssue, JiraProject } from './jira-data.ts'
import {
  compareSortValues,
  effectiveOrder,
  type JqlQuery,
  type JqlSort,
  matchesJql,
  parseJql,
  type SortValues,
  sortValues,
} from './jql.ts'
import type { FakeResponse, RecordedRequest } from './server.ts'

/** What the search routes read from the fake's state. */
export type SearchStore = {
  /** Changes whenever the issues, their search view or the clock change (ranked results are kept until then). */
  version(): number
  /** Former project keys (→ project id) and issue keys (→ issue id), upper-case, that still resolve. */
  aliases(): { projects: ReadonlyMap<string, string>; issues: ReadonlyMap<string, string> }
  now(): number
  baseUrl(): string
  /** Issues as search sees them (search lag applied), given the ids listed in `reconcileIssues`. */
  searchView(reconcile: ReadonlySet<string>): JiraIssue[]
  /** All stored issues, consistent (for validating `key in (…)`). */
  allIssues(): JiraIssue[]
  projects(): JiraProject[]
}

/** What `onSearchPage` hooks receive, before the page is evaluated. */
export type SearchPageEvent = { page: number; jql: string; nextPageToken: string | undefined }

export type SearchPageHook = (event: SearchPageEvent) => void | Promise<void>

type Ranked = { issue: JiraIssue; at: SortValues }

type Cursor = { jql: string; fields: string; after: SortValues; page: number; issuedAt: number }

type SearchParams = {
  jql: string
  fields: string[]
  maxResults: number | undefined
  nextPageToken: string | undefined
  reconcile: Set<string>
}

const TOKEN_TTL_MS = 7 * 86_400_000
const DEFAULT_MAX_RESULTS = 50
const ID_ONLY = new Set(['id', 'key'])

/** Jira's error body: `{ errorMessages, errors }`. */
export function jiraError(status: number, ...messages: string[]): FakeResponse {
  return { status, body: { errorMessages: messages, errors: {} } }
}

function list(values: string[]): string[] {
  return values
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean)
}

function readParams(req: RecordedRequest): SearchParams | string {
  if (req.method === 'GET') {
    const max = req.query.get('maxResults')
    return {
      jql: req.query.get('jql') ?? '',
      fields: list(req.query.getAll('fields')),
      maxResults: max === null ? undefined : Number(max),
      nextPageToken: req.query.get('nextPageToken') ?? undefined,
      reconcile: new Set(list(req.query.getAll('reconcileIssues'))),
    }
  }
  const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<
    string,
    unknown
  >
  const { jql = '', fields = [], maxResults, nextPageToken, reconcileIssues = [] } = body
  if (typeof jql !== 'string' || !Array.isArray(fields) || !Array.isArray(reconcileIssues)) {
    return 'The request body is not valid: jql must be a string, fields and reconcileIssues arrays.'
  }
  if (maxResults !== undefined && typeof maxResults !== 'number') {
    return 'The request body is not valid: maxResults must be a number.'
  }
  if (nextPageToken !== undefined && nextPageToken !== null && typeof nextPageToken !== 'string') {
    return 'The request body is not valid: nextPageToken must be a string.'
  }
  return {
    jql,
    fields: fields.map(String),
    maxResults,
    nextPageToken: nextPageToken ?? undefined,
    reconcile: new Set(reconcileIssues.map(String)),
  }
}

/** Shapes an issue for a response: `id` alone by default, else `id`, `key`, `self` and the asked fields. */
export function projectIssue(
  issue: JiraIssue,
  fields: string[],
  baseUrl: string,
): Record<string, unknown> {
  const all = fields.includes('*all') || fields.includes('*navigable')
  const excluded = new Set(fields.filter((f) => f.startsWith('-')).map((f) => f.slice(1)))
  const names = all ? Object.keys(issue.fields) : fields
  const picked: Record<string, unknown> = {}
  for (const name of names) {
    if (!excluded.has(name) && Object.hasOwn(issue.fields, name)) {
      picked[name] = issue.fields[name as keyof JiraIssue['fields']]
    }
  }
  if (!all && fields.every((field) => field === 'id')) {
    return { id: issue.id }
  }
  return {
    id: issue.id,
    key: issue.key,
    self: `${baseUrl}/rest/api/3/issue/${issue.id}`,
    fields: picked,
  }
}

// Like Jira's JQL validation, one message per value that names nothing, all in one answer.
function unknownValues(query: JqlQuery, store: SearchStore): string[] {
  const projects = store.projects()
  const messages: string[] = []
  for (const clause of query.clauses) {
    if (clause.kind === 'project') {
      const missing = clause.values.filter(
        (v) =>
          !projects.some(
            (p) =>
              p.id === v ||
              p.key.toUpperCase() === v.toUpperCase() ||
              p.name.toLowerCase() === v.toLowerCase(),
          ),
      )
      messages.push(
        ...missing.map((v) => `The value '${v}' does not exist for the field 'project'.`),
      )
    }
    if (clause.kind === 'issue') {
      const issues = store.allIssues()
      const missing = clause.values.filter(
        (v) => !issues.some((i) => i.id === v || i.key.toUpperCase() === v.toUpperCase()),
      )
      messages.push(
        ...missing.map(
          (v) => `An issue with key '${v}' does not exist for field '${clause.field}'.`,
        ),
      )
    }
  }
  return messages
}

// Former keys stand for what carries them now, as in Jira's JQL: a project by its id, an issue by
// its id (`key = OLD-7` finds the issue that is NEW-7 now).
function resolveAliases(query: JqlQuery, store: SearchStore): JqlQuery {
  const { projects, issues } = store.aliases()
  const clauses = query.clauses.map((clause) => {
    if (clause.kind === 'project') {
      return { ...clause, values: clause.values.map((v) => projects.get(v.toUpperCase()) ?? v) }
    }
    if (clause.kind === 'issue') {
      return { ...clause, values: clause.values.map((v) => issues.get(v.toUpperCase()) ?? v) }
    }
    return clause
  })
  return { ...query, clauses }
}

/** Parses and checks JQL the way both search routes need it. */
export function checkedJql(jql: string, store: SearchStore): { query: JqlQuery } | FakeResponse {
  const parsed = parseJql(jql, store.now())
  if (!parsed.ok) {
    return jiraError(400, parsed.message)
  }
  parsed.query = resolveAliases(parsed.query, store)
  if (parsed.query.clauses.length === 0) {
    return jiraError(
      400,
      'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.',
    )
  }
  const unknown = unknownValues(parsed.query, store)
  return unknown.length > 0 ? jiraError(400, ...unknown) : { query: parsed.query }
}

/**
 * `GET|POST /rest/api/3/search/jql` and `POST …/search/approximate-count` over a `SearchStore`.
 * The token records the sort position of the last issue served, and every page re-runs the query:
 * like Jira, an issue that changes while a client pages may move, vanish or show up twice.
 */
export function createSearchRoutes(store: SearchStore) {
  const cursors = new Map<string, Cursor>()
  let issued = 0
  let hook: SearchPageHook | undefined
  let truncations = 0
  // The last ranking per query, reused while the store's version holds: each page re-runs the
  // query (as Jira does), and a project of 200,000 issues must not be sorted again for each.
  const rankings = new Map<string, { version: number; ranked: Ranked[] }>()

  function issueToken(cursor: Cursor): string {
    issued += 1
    const token = Buffer.from(JSON.stringify({ v: 1, n: issued, p: cursor.page })).toString(
      'base64url',
    )
    cursors.set(token, cursor)
    return token
  }

  async function search(req: RecordedRequest): Promise<FakeResponse> {
    const params = readParams(req)
    if (typeof params === 'string') {
      return jiraError(400, params)
    }
    const fields = params.fields.length > 0 ? params.fields : ['id']
    const fieldsKey = [...new Set(fields)].sort().join(',')
    let cursor: Cursor | undefined
    if (params.nextPageToken !== undefined) {
      cursor = cursors.get(params.nextPageToken)
      const expired = cursor !== undefined && store.now() - cursor.issuedAt > TOKEN_TTL_MS
      if (!cursor || expired || cursor.jql !== params.jql || cursor.fields !== fieldsKey) {
        return jiraError(400, 'The provided next page token is invalid or expired.')
      }
    }
    const checked = checkedJql(params.jql, store)
    if (!('query' in checked)) {
      return checked
    }
    const idsOnly =
      !fields.some((field) => field.startsWith('*')) && fields.every((f) => ID_ONLY.has(f))
    const requested = params.maxResults ?? DEFAULT_MAX_RESULTS
    if (!Number.isInteger(requested) || requested < 0) {
      return jiraError(400, `The value '${requested}' is not valid for maxResults.`)
    }
    const maxResults = Math.min(Math.max(requested, 1), idsOnly ? 5000 : 100)
    const page = (cursor?.page ?? 0) + 1
    await hook?.({ page, jql: params.jql, nextPageToken: params.nextPageToken })

    const order: JqlSort[] = effectiveOrder(checked.query)
    const rankingKey = `${params.jql}\n${[...params.reconcile].sort().join(',')}`
    const cached = rankings.get(rankingKey)
    const ranked =
      cached && cached.version === store.version()
        ? cached.ranked
        : store
            .searchView(params.reconcile)
            .filter((issue) => matchesJql(checked.query, issue))
            .map((issue) => ({ issue, at: sortValues(issue, order) }))
            .sort((a, b) => compareSortValues(a.at, b.at, order))
    rankings.set(rankingKey, { version: store.version(), ranked })
    const after = cursor?.after
    const remaining = after
      ? ranked.filter((r) => compareSortValues(r.at, after, order) > 0)
      : ranked
    const served = remaining.slice(0, maxResults)
    const last = served.at(-1)
    const isLast = remaining.length <= maxResults || !last
    const body: Record<string, unknown> = {
      issues: served.map((r) => projectIssue(r.issue, fields, store.baseUrl())),
    }
    if (!isLast && truncations > 0) {
      truncations -= 1 // a page cut short: more to come, and no token to get it
    } else if (!isLast && last) {
      body.nextPageToken = issueToken({
        jql: params.jql,
        fields: fieldsKey,
        after: last.at,
        page,
        issuedAt: store.now(),
      })
    }
    body.isLast = isLast
    return { status: 200, body }
  }

  function approximateCount(req: RecordedRequest): FakeResponse {
    const jql = (req.body as { jql?: unknown } | undefined)?.jql
    if (typeof jql !== 'string') {
      return jiraError(400, 'The request body must have a jql string.')
    }
    const checked = checkedJql(jql, store)
    if (!('query' in checked)) {
      return checked
    }
    const count = store
      .searchView(new Set())
      .filter((issue) => matchesJql(checked.query, issue)).length
    return { status: 200, body: { count } }
  }

  return {
    search,
    approximateCount,
    setHook(next: SearchPageHook | undefined) {
      hook = next
    },
    /** The next `times` pages with more to come are sent without a token. */
    truncate(times: number) {
      truncations = times
    },
    /** Forgets every token issued so far: the next request with one gets the expired-token 400. */
    expireTokens() {
      cursors.clear()
    },
  }
}
