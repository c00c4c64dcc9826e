import {
  type FakeResponse,
  type FakeServer,
  type RecordedRequest,
  startFakeServer,
} from './server.ts'
import {
  aWorklog,
  compareWorklogs,
  copyWorklog,
  type FakeTempoWorklog,
  tempoTimestamp,
  toTempoJson,
} from './tempo-data.ts'

/** Options for `startFakeTempo`. */
export type FakeTempoOptions = {
  /** the accepted Bearer token (default `fake-tempo-token`) */
  apiToken?: string
  port?: number
  /** gateway limit: more than this many requests in a rolling second get 429 (default: no limit) */
  maxRequestsPerSecond?: number
  /** send `Retry-After: 1` with the gateway's 429 (default true; Tempo's behaviour is unverified) */
  sendRetryAfter?: boolean
  /** where `issue.self` and `author.self` point (default `https://fake.atlassian.net`) */
  jiraBaseUrl?: string
}

/** Fields an edit may change; the id and timestamps are the fake's. */
export type WorklogPatch = Partial<
  Omit<FakeTempoWorklog, 'tempoWorklogId' | 'createdAt' | 'updatedAt'>
>

/** A running fake Tempo Cloud REST v4 (`GET /4/worklogs`) and the knobs tests turn. */
export type FakeTempo = FakeServer & {
  apiToken: string
  /** Replaces every stored worklog (copies them). */
  setWorklogs(list: readonly FakeTempoWorklog[]): void
  /** Adds a worklog, by default with the next free id and `createdAt` = `updatedAt` = the fake's now. */
  addWorklog(worklog?: Partial<FakeTempoWorklog>): FakeTempoWorklog
  /** Changes a worklog and bumps its `updatedAt` to the fake's now. @throws on an unknown id */
  editWorklog(id: number, patch: WorklogPatch): FakeTempoWorklog
  /** Deletes a worklog; like Tempo, nothing reports it, it just stops appearing. @throws on an unknown id */
  deleteWorklog(id: number): void
  /** A copy of what is stored, ordered as the API orders it. */
  worklogs(): FakeTempoWorklog[]
  /**
   * Sends a stored worklog malformed from now on (`timeSpentSeconds` as text, as a broken proxy or
   * a schema change would); `withoutId` also leaves out `tempoWorklogId`. @throws on an unknown id
   */
  corruptWorklog(id: number, options?: { withoutId?: boolean }): void
  /** `metadata.next` links point at this origin instead of the fake's own (null: back to its own). */
  setNextOrigin(origin: string | null): void
  /** Sets the fake's clock (used for `updatedAt` on add and edit). */
  setNow(date: Date | string): void
  /** Back to a fresh fake: no worklogs, faults, requests or rate-limit history; default clock. */
  reset(): void
}

/** The fake's clock until `setNow`; fixed so stored timestamps repeat run to run. */
export const FAKE_TEMPO_DEFAULT_NOW = '2025-06-30T12:00:00Z'

const MAX_LIMIT = 5000
const DATE = /^\d{4}-\d{2}-\d{2}$/
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
const NUMERIC_ID = /^\d+$/

type Query = {
  from?: string
  to?: string
  updatedFromMs?: number
  offset: number
  limit: number
  projectIds: Set<number>
  issueIds: Set<number>
}

function errors(status: number, message: string): FakeResponse {
  return { status, body: { errors: [{ message }] } }
}

function isValidDate(value: string, pattern: RegExp): boolean {
  const ms = Date.parse(value)
  // Date.parse rolls 2025-02-30 over to March; a real calendar date survives the round trip.
  return (
    pattern.test(value) &&
    !Number.isNaN(ms) &&
    new Date(ms).toISOString().slice(0, 10) === value.slice(0, 10)
  )
}

function parseIds(query: URLSearchParams, name: string): Set<number> | string {
  const values = query.getAll(name)
  const bad = values.find((value) => !NUMERIC_ID.test(value))
  return bad === undefined ? new Set(values.map(Number)) : `${name} must be a numeric id`
}

/** The request's query, or the message of a 400. */
function parseQuery(query: URLSearchParams): Query | string {
  // Observed by the original system: `project` is rejected; `projectKey` is silently ignored.
  if (query.has('project')) {
    return "Unknown query parameter 'project'; use projectId"
  }
  const parsed: Query = { offset: 0, limit: 50, projectIds: new Set(), issueIds: new Set() }
  for (const name of ['from', 'to'] as const) {
    const value = query.get(name)
    if (value !== null) {
      if (!isValidDate(value, DATE)) {
        return `${name} must be a date in the format yyyy-MM-dd`
      }
      parsed[name] = value
    }
  }
  const updatedFrom = query.get('updatedFrom')
  if (updatedFrom !== null) {
    const iso = DATE.test(updatedFrom) ? `${updatedFrom}T00:00:00Z` : updatedFrom
    if (!isValidDate(iso, DATE_TIME)) {
      return 'updatedFrom must be yyyy-MM-dd or yyyy-MM-ddTHH:mm:ssZ'
    }
    parsed.updatedFromMs = Date.parse(iso)
  }
  const offset = query.get('offset')
  if (offset !== null) {
    if (!NUMERIC_ID.test(offset)) {
      return 'offset must be a non-negative integer'
    }
    parsed.offset = Number(offset)
  }
  const limit = query.get('limit')
  if (limit !== null) {
    if (!NUMERIC_ID.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) {
      return `limit must be between 1 and ${MAX_LIMIT}`
    }
    parsed.limit = Number(limit)
  }
  const projectIds = parseIds(query, 'projectId')
  const issueIds = parseIds(query, 'issueId')
  if (typeof projectIds === 'string') {
    return projectIds
  }
  if (typeof issueIds === 'string') {
    return issueIds
  }
  return { ...parsed, projectIds, issueIds }
}

function selects(query: Query, worklog: FakeTempoWorklog): boolean {
  return (
    (query.from === undefined || worklog.startDate >= query.from) &&
    (query.to === undefined || worklog.startDate <= query.to) &&
    (query.updatedFromMs === undefined || Date.parse(worklog.updatedAt) >= query.updatedFromMs) &&
    (query.projectIds.size === 0 || query.projectIds.has(worklog.projectId)) &&
    (query.issueIds.size === 0 || query.issueIds.has(worklog.issueId))
  )
}

/**
 * Starts a fake Tempo on 127.0.0.1. Point the client's base URL at `url` (it serves `/4/worklogs`).
 * @example const tempo = await startFakeTempo(); tempo.setWorklogs(sampleWorklogs({ ... }))
 */
export async function startFakeTempo(options: FakeTempoOptions = {}): Promise<FakeTempo> {
  const apiToken = options.apiToken ?? 'fake-tempo-token'
  const jiraBaseUrl = options.jiraBaseUrl ?? 'https://fake.atlassian.net'
  const retryAfter = options.sendRetryAfter ?? true
  const stored = new Map<number, FakeTempoWorklog>()
  let now = new Date(FAKE_TEMPO_DEFAULT_NOW)
  let admitted: number[] = [] // times of requests the gateway let through in the last second
  let baseUrl = ''
  let nextOrigin: string | null = null
  const corrupted = new Map<number, { withoutId: boolean }>()

  function wire(worklog: FakeTempoWorklog): Record<string, unknown> {
    const json: Record<string, unknown> = toTempoJson(worklog, baseUrl, jiraBaseUrl)
    const broken = corrupted.get(worklog.tempoWorklogId)
    if (broken) {
      json.timeSpentSeconds = `${worklog.timeSpentSeconds / 3600}h`
      if (broken.withoutId) {
        delete json.tempoWorklogId
      }
    }
    return json
  }

  function gatewayAllows(): boolean {
    const limit = options.maxRequestsPerSecond
    if (limit === undefined) {
      return true
    }
    // Real time, not the fake's clock: clients wait real seconds before retrying.
    const at = performance.now()
    admitted = admitted.filter((time) => at - time < 1000)
    if (admitted.length >= limit) {
      return false
    }
    admitted.push(at)
    return true
  }

  function listWorklogs(req: RecordedRequest): FakeResponse {
    const query = parseQuery(req.query)
    if (typeof query === 'string') {
      return errors(400, query)
    }
    const selected = [...stored.values()].filter((w) => selects(query, w)).sort(compareWorklogs)
    const page = selected.slice(query.offset, query.offset + query.limit)
    const search = req.query.toString()
    const metadata: Record<string, unknown> = {
      count: page.length,
      offset: query.offset,
      limit: query.limit,
    }
    if (query.offset + query.limit < selected.length) {
      const next = new URLSearchParams(req.query)
      next.set('offset', String(query.offset + query.limit))
      metadata.next = `${nextOrigin ?? baseUrl}${req.path}?${next.toString()}`
    }
    return {
      status: 200,
      body: {
        self: `${baseUrl}${req.path}${search ? `?${search}` : ''}`,
        metadata,
        results: page.map(wire),
      },
    }
  }

  const server = await startFakeServer((req) => {
    if (!gatewayAllows()) {
      const headers: Record<string, string> = retryAfter ? { 'retry-after': '1' } : {}
      return { ...errors(429, 'Rate limit exceeded'), headers }
    }
    if (req.headers.authorization !== `Bearer ${apiToken}`) {
      return errors(401, 'The request is not authenticated: a valid Bearer token is required.')
    }
    if (req.path !== '/4/worklogs' && req.path !== '/4/worklogs/') {
      return errors(404, `No route for ${req.method} ${req.path}`)
    }
    if (req.method !== 'GET') {
      return errors(405, `${req.method} is not supported by this fake`)
    }
    return listWorklogs(req)
  }, options.port)
  baseUrl = server.url

  function find(id: number): FakeTempoWorklog {
    const worklog = stored.get(id)
    if (!worklog) {
      throw new Error(`fake Tempo has no worklog ${id}`)
    }
    return worklog
  }

  function store(worklog: FakeTempoWorklog) {
    if (stored.has(worklog.tempoWorklogId)) {
      throw new Error(`fake Tempo already has worklog ${worklog.tempoWorklogId}`)
    }
    stored.set(worklog.tempoWorklogId, copyWorklog(worklog))
  }

  return {
    ...server,
    apiToken,
    setWorklogs(list) {
      stored.clear()
      for (const worklog of list) {
        store(worklog)
      }
    },
    addWorklog(worklog = {}) {
      const at = tempoTimestamp(now)
      const tempoWorklogId = Math.max(0, ...stored.keys()) + 1
      const added = aWorklog({ tempoWorklogId, createdAt: at, updatedAt: at, ...worklog })
      store(added)
      return copyWorklog(added)
    },
    editWorklog(id, patch) {
      const edited = { ...find(id), ...patch, tempoWorklogId: id, updatedAt: tempoTimestamp(now) }
      stored.set(id, copyWorklog(edited))
      return copyWorklog(edited)
    },
    deleteWorklog(id) {
      find(id)
      stored.delete(id)
    },
    worklogs() {
      return [...stored.values()].sort(compareWorklogs).map(copyWorklog)
    },
    corruptWorklog(id, options = {}) {
      find(id)
      corrupted.set(id, { withoutId: options.withoutId ?? false })
    },
    setNextOrigin(origin) {
      nextOrigin = origin
    },
    setNow(date) {
      const next = new Date(date)
      if (Number.isNaN(next.getTime())) {
        throw new Error(`fake Tempo cannot set its clock to ${String(date)}`)
      }
      now = next
    },
    reset() {
      stored.clear()
      server.clearFaults()
      server.requests.length = 0
      admitted = []
      corrupted.clear()
      nextOrigin = null
      now = new Date(FAKE_TEMPO_DEFAULT_NOW)
    },
  }
}
