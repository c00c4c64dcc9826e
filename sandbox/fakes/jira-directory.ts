import type { JiraProject, JiraUser } from './jira-data.ts'
import { jiraError } from './jira-search.ts'
import type { FakeResponse, RecordedRequest } from './server.ts'

/** What the user and project routes read from the fake's state. */
export type DirectoryStore = {
  baseUrl(): string
  projects(): JiraProject[]
  users(): Map<string, JiraUser>
  /** Every key a project had, the current one first (`expand=projectKeys`). */
  projectKeysOf(project: JiraProject): string[]
  /** The id of the project that once had `key`, if any. */
  formerProjectId(key: string): string | undefined
}

function readInt(query: URLSearchParams, name: string, fallback: number): number | FakeResponse {
  const raw = query.get(name)
  const value = raw === null ? fallback : Number(raw)
  return Number.isInteger(value) && value >= 0
    ? value
    : jiraError(400, `The value '${raw}' is not valid for ${name}.`)
}

/**
 * `GET /rest/api/3/user`, `…/user/bulk`, `…/project/search` and `…/project/{idOrKey}`.
 * Lists are Jira's offset-paged PageBean: `{ self, nextPage?, maxResults, startAt, total, isLast, values }`.
 */
export function createDirectoryRoutes(store: DirectoryStore) {
  function projectWire(project: JiraProject, expand: string | null) {
    const self = `${store.baseUrl()}/rest/api/3/project/${project.id}`
    const shape = {
      projectTypeKey: 'software',
      simplified: false,
      style: 'classic',
      isPrivate: false,
    }
    const expanded = (expand ?? '').split(',').map((part) => part.trim())
    const keys = expanded.includes('projectKeys') && { projectKeys: store.projectKeysOf(project) }
    return { self, ...project, ...shape, ...keys }
  }

  function userWire(user: JiraUser) {
    const id = encodeURIComponent(user.accountId)
    const avatar = `https://avatar-management.example/${id}.png`
    const self = `${store.baseUrl()}/rest/api/3/user?accountId=${id}`
    return { self, ...user, avatarUrls: { '48x48': avatar, '24x24': avatar }, locale: 'en_US' }
  }

  function pageBean<T>(req: RecordedRequest, values: T[], defaultMax: number, cap: number) {
    const startAt = readInt(req.query, 'startAt', 0)
    const requested = readInt(req.query, 'maxResults', defaultMax)
    if (typeof startAt !== 'number') {
      return startAt
    }
    if (typeof requested !== 'number') {
      return requested
    }
    const maxResults = Math.min(requested, cap)
    const isLast = startAt + maxResults >= values.length
    const url = `${store.baseUrl()}${req.path}`
    const bean: Record<string, unknown> = { self: `${url}?${req.query.toString()}` }
    if (!isLast) {
      const next = new URLSearchParams(req.query)
      next.set('startAt', String(startAt + maxResults))
      bean.nextPage = `${url}?${next.toString()}`
    }
    Object.assign(bean, { maxResults, startAt, total: values.length, isLast })
    bean.values = values.slice(startAt, startAt + maxResults)
    return { status: 200, body: bean }
  }

  function projectSearch(req: RecordedRequest): FakeResponse {
    const keys = new Set(req.query.getAll('keys').map((key) => key.toUpperCase()))
    const text = (req.query.get('query') ?? '').toLowerCase()
    const orderBy = req.query.get('orderBy') ?? 'key'
    const field = orderBy.replace(/^[+-]/, '') === 'name' ? 'name' : 'key'
    const direction = orderBy.startsWith('-') ? -1 : 1
    const matching = store
      .projects()
      .filter((p) => keys.size === 0 || keys.has(p.key))
      .filter((p) => p.key.toLowerCase().includes(text) || p.name.toLowerCase().includes(text))
      .sort((a, b) => a[field].localeCompare(b[field]) * direction)
    const expand = req.query.get('expand')
    return pageBean(
      req,
      matching.map((project) => projectWire(project, expand)),
      50,
      100,
    )
  }

  function user(req: RecordedRequest): FakeResponse {
    const accountId = req.query.get('accountId')
    if (!accountId) {
      return jiraError(400, "The query parameter 'accountId' is required.")
    }
    const found = store.users().get(accountId)
    return found
      ? { status: 200, body: userWire(found) }
      : jiraError(404, 'Specified user does not exist or you do not have required permissions')
  }

  function userBulk(req: RecordedRequest): FakeResponse {
    const ids = [...new Set(req.query.getAll('accountId'))]
    if (ids.length === 0) {
      return jiraError(400, "The query parameter 'accountId' is required.")
    }
    const known = store.users()
    // Unknown ids are left out without an error, as Jira does.
    const found = ids.flatMap((id) => {
      const match = known.get(id)
      return match ? [userWire(match)] : []
    })
    return pageBean(req, found, 10, 200)
  }

  function project(req: RecordedRequest, wanted: string): FakeResponse {
    const id = store.formerProjectId(wanted) ?? wanted
    const match = store.projects().find((p) => p.id === id || p.key === wanted.toUpperCase())
    return match
      ? { status: 200, body: projectWire(match, req.query.get('expand')) }
      : jiraError(404, `No project could be found with key '${wanted}'.`)
  }

  /** The answer for a GET on `path`, or `undefined` when the path is not a directory route. */
  return function route(req: RecordedRequest, path: string): FakeResponse | undefined {
    if (req.method !== 'GET') {
      return undefined
    }
    if (path === '/rest/api/3/user') {
      return user(req)
    }
    if (path === '/rest/api/3/user/bulk') {
      return userBulk(req)
    }
    if (path === '/rest/api/3/project/search') {
      return projectSearch(req)
    }
    const match = /^\/rest\/api\/3\/project\/([^/]+)$/.exec(path)
    return match?.[1] ? project(req, decodeURIComponent(match[1])) : undefined
  }
}
