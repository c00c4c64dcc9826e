import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { useFakeJira } from '#test/fakes.ts'
import {
  aJiraIssue,
  aJiraUser,
  type JiraIssue,
  jiraTimestamp,
  parseJiraTimestamp,
  sampleOrganisation,
} from './jira-data.ts'
import { parseJql } from './jql.ts'

type SearchPage = {
  issues: Array<{ id: string; key?: string; fields?: Record<string, unknown> }>
  nextPageToken?: string
  isLast: boolean
}
type PageBean<T> = {
  self: string
  nextPage?: string
  maxResults: number
  startAt: number
  total: number
  isLast: boolean
  values: T[]
}
type ErrorBody = { errorMessages: string[]; errors: Record<string, string> }

const NOW = Date.parse('2025-06-30T12:00:00.000Z')
const DAY = 86_400_000
const AUTH = `Basic ${Buffer.from('fake@example.com:fake-jira-token').toString('base64')}`

const jira = useFakeJira()

async function call<T>(
  path: string,
  init: { method?: string; body?: unknown; authorization?: string | null } = {},
) {
  const headers: Record<string, string> = { accept: 'application/json' }
  const authorization = init.authorization === undefined ? AUTH : init.authorization
  if (authorization !== null) {
    headers.authorization = authorization
  }
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json'
  }
  const res = await fetch(`${jira.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  })
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // plain-text bodies (401) stay strings
  }
  return { status: res.status, headers: res.headers, body: body as T }
}

function searchPath(params: Record<string, string | undefined>) {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) {
      query.set(name, value)
    }
  }
  return `/rest/api/3/search/jql?${query.toString()}`
}

/** `count` issues of `project`, updated one minute apart starting 30 days before NOW. */
function issues(project: string, count: number): JiraIssue[] {
  return Array.from({ length: count }, (_, n) =>
    aJiraIssue({
      key: `${project}-${n + 1}`,
      fields: { updated: jiraTimestamp(NOW - 30 * DAY + n * 60_000) },
    }),
  )
}

describe('fake jira search/jql', () => {
  describe('happy', () => {
    it('pages by token across three pages with no duplicates or gaps', async () => {
      const stored = issues('OPS', 120)
      jira.setIssues([...stored, ...issues('OTHER', 5)])
      const jql = 'project = OPS ORDER BY updated ASC'
      const pages: SearchPage[] = []
      let token: string | undefined
      do {
        const res = await call<SearchPage>(
          searchPath({ jql, fields: 'summary,updated', maxResults: '50', nextPageToken: token }),
        )
        expect(res.status, JSON.stringify(res.body)).toBe(200)
        pages.push(res.body)
        token = res.body.nextPageToken
      } while (token)
      expect(pages.map((page) => [page.issues.length, page.isLast])).toEqual([
        [50, false],
        [50, false],
        [20, true],
      ])
      expect(pages.flatMap((page) => page.issues.map((issue) => issue.key))).toEqual(
        stored.map((issue) => issue.key),
      )
      expect(pages[0]).not.toHaveProperty('total')
      // startAt is not supported: it returns page 1 again (the original system's duplicate pages).
      const offset = await call<SearchPage>(
        searchPath({ jql, fields: 'summary,updated', maxResults: '50', startAt: '50' }),
      )
      expect(offset.body.issues).toEqual(pages[0]?.issues)
    })

    it('returns only ids when no fields are asked for', async () => {
      jira.setIssues(issues('OPS', 2))
      const res = await call<SearchPage>(searchPath({ jql: 'project = OPS ORDER BY key' }))
      expect(res.body.issues).toEqual([
        { id: issues('OPS', 2)[0]?.id },
        { id: issues('OPS', 2)[1]?.id },
      ])
      expect(res.body.isLast).toBe(true)
    })

    it('caps maxResults at 100 with real fields and at 5000 with ids only', async () => {
      jira.setIssues(issues('BIG', 5100))
      const jql = 'project = BIG ORDER BY id'
      const withFields = await call<SearchPage>(
        searchPath({ jql, fields: 'summary', maxResults: '500' }),
      )
      expect(withFields.body.issues).toHaveLength(100)
      const idsOnly = await call<SearchPage>(
        searchPath({ jql, fields: 'id,key', maxResults: '9000' }),
      )
      expect(idsOnly.body.issues).toHaveLength(5000)
      expect(idsOnly.body.isLast).toBe(false)
      const byDefault = await call<SearchPage>(searchPath({ jql }))
      expect(byDefault.body.issues).toHaveLength(50)
    })

    it('answers POST with the same keys as JSON, fields as an array', async () => {
      jira.setIssues(issues('OPS', 3))
      const res = await call<SearchPage>('/rest/api/3/search/jql', {
        method: 'POST',
        body: { jql: 'project = OPS ORDER BY key DESC', fields: ['summary'], maxResults: 2 },
      })
      expect(res.body.issues.map((issue) => [issue.key, issue.fields])).toEqual([
        ['OPS-3', { summary: 'Summary of OPS-3' }],
        ['OPS-2', { summary: 'Summary of OPS-2' }],
      ])
      expect(res.body.nextPageToken).toEqual(expect.any(String))
    })

    it('re-evaluates each page, so an issue updated past a frozen upper bound disappears', async () => {
      const stored = issues('OPS', 6)
      jira.setIssues(stored)
      const upper = NOW - 10 * DAY
      const jql = `project = OPS AND updated <= ${upper} ORDER BY updated ASC`
      jira.onSearchPage(({ page }) => {
        if (page === 2) {
          jira.updateIssue('OPS-5', {}) // now NOW, after the upper bound
        }
      })
      const first = await call<SearchPage>(searchPath({ jql, fields: 'key', maxResults: '3' }))
      const second = await call<SearchPage>(
        searchPath({
          jql,
          fields: 'key',
          maxResults: '3',
          nextPageToken: first.body.nextPageToken,
        }),
      )
      expect([...first.body.issues, ...second.body.issues].map((issue) => issue.key)).toEqual([
        'OPS-1',
        'OPS-2',
        'OPS-3',
        'OPS-4',
        'OPS-6',
      ])
      expect(second.body.isLast).toBe(true)
    })

    it('filters by project list, id list, key list and updated bounds', async () => {
      const ops = issues('OPS', 11)
      jira.setIssues([...ops, ...issues('WEB', 2), ...issues('HR', 2)])
      const keysOf = async (jql: string) =>
        (await call<SearchPage>(searchPath({ jql, fields: 'key' }))).body.issues.map((i) => i.key)
      // Keys order by project, then by number: OPS-10 follows OPS-9.
      expect(await keysOf('project = OPS ORDER BY key')).toEqual(ops.map((issue) => issue.key))
      expect(await keysOf('project in (WEB, HR) ORDER BY key')).toEqual([
        'HR-1',
        'HR-2',
        'WEB-1',
        'WEB-2',
      ])
      expect(await keysOf(`id in (${ops[0]?.id}, ${ops[2]?.id}) ORDER BY key`)).toEqual([
        'OPS-1',
        'OPS-3',
      ])
      expect(await keysOf('key in (OPS-2, WEB-1) ORDER BY key DESC')).toEqual(['WEB-1', 'OPS-2'])
      const from = parseJiraTimestamp(ops[1]?.fields.updated ?? '')
      const to = parseJiraTimestamp(ops[2]?.fields.updated ?? '')
      expect(await keysOf(`project = OPS AND updated >= ${from} AND updated <= ${to}`)).toEqual([
        'OPS-2',
        'OPS-3',
      ])
    })

    it('hides lagging changes from search unless the issue is reconciled', async () => {
      jira.setSearchLag(5000)
      jira.addIssue(aJiraIssue({ key: 'LAG-1' }))
      const plain = await call<SearchPage>(searchPath({ jql: 'project = LAG', fields: 'key' }))
      expect(plain.body.issues).toEqual([])
      const id = jira.issues()[0]?.id ?? ''
      const reconciled = await call<SearchPage>(
        searchPath({ jql: 'project = LAG', fields: 'key', reconcileIssues: id }),
      )
      expect(reconciled.body.issues.map((issue) => issue.key)).toEqual(['LAG-1'])
    })

    it('counts approximately', async () => {
      jira.setIssues(issues('OPS', 7))
      const res = await call<{ count: number }>('/rest/api/3/search/approximate-count', {
        method: 'POST',
        body: { jql: 'project = OPS' },
      })
      expect(res.body).toEqual({ count: 7 })
    })
  })

  describe('errors', () => {
    it('rejects a token used with a different jql', async () => {
      jira.setIssues(issues('OPS', 3))
      const first = await call<SearchPage>(
        searchPath({ jql: 'project = OPS ORDER BY key', maxResults: '1' }),
      )
      const res = await call<ErrorBody>(
        searchPath({ jql: 'project = OPS ORDER BY id', nextPageToken: first.body.nextPageToken }),
      )
      expect(res.status).toBe(400)
      expect(res.body).toEqual({ errorMessages: [expect.stringContaining('token')], errors: {} })
    })

    it('rejects a token used with different fields, an unknown token and an expired one', async () => {
      jira.setIssues(issues('OPS', 3))
      const jql = 'project = OPS ORDER BY key'
      const first = await call<SearchPage>(searchPath({ jql, maxResults: '1' }))
      const token = first.body.nextPageToken
      const otherFields = await call(searchPath({ jql, fields: 'summary', nextPageToken: token }))
      expect(otherFields.status).toBe(400)
      const unknown = await call(searchPath({ jql, nextPageToken: 'bm90LWEtdG9rZW4' }))
      expect(unknown.status).toBe(400)
      expect((await call(searchPath({ jql, nextPageToken: token }))).status).toBe(200)
      jira.setNow(new Date(NOW + 8 * DAY))
      expect((await call(searchPath({ jql, nextPageToken: token }))).status).toBe(400)
    })

    it('names every unknown value of an id or key list in one 400, a message each, as Jira does', async () => {
      const stored = issues('OPS', 2)
      jira.setIssues(stored)
      const jql = `id in (${stored[0]?.id}, 90000001, 90000002)`
      const res = await call<ErrorBody>(searchPath({ jql }))
      expect(res.status).toBe(400)
      expect(res.body.errorMessages).toEqual([
        "An issue with key '90000001' does not exist for field 'id'.",
        "An issue with key '90000002' does not exist for field 'id'.",
      ])
      const keys = await call<ErrorBody>(searchPath({ jql: 'key in (OPS-1, OPS-9, WEB-1)' }))
      expect(keys.body.errorMessages).toHaveLength(2)
    })

    it('rejects unbounded, unparseable and over-ordered JQL with errorMessages', async () => {
      jira.setIssues(issues('OPS', 1))
      for (const jql of [
        'ORDER BY key',
        '',
        'project = OPS OR project = WEB',
        'project = ',
        `project = OPS ORDER BY ${Array(8).fill('key').join(', ')}`,
        'project = NOPE',
      ]) {
        const res = await call<ErrorBody>(searchPath({ jql }))
        expect(res.status, jql).toBe(400)
        expect(res.body.errorMessages, jql).toHaveLength(1)
      }
      const unbounded = await call<ErrorBody>(searchPath({ jql: 'order by key' }))
      expect(unbounded.body.errorMessages[0]).toMatch(/Unbounded JQL/)
    })

    it('answers 410 Gone on the removed search API, pointing to search/jql', async () => {
      for (const [method, path] of [
        ['GET', '/rest/api/3/search?jql=project%3DOPS'],
        ['POST', '/rest/api/3/search'],
        ['GET', '/rest/api/2/search'],
      ] as const) {
        const res = await call<ErrorBody>(path, { method, ...(method === 'POST' && { body: {} }) })
        expect(res.status, path).toBe(410)
        expect(res.body.errorMessages[0]).toContain('/rest/api/3/search/jql')
      }
    })

    it('scripts 429s in Jira shape, then answers normally', async () => {
      jira.setIssues(issues('OPS', 1))
      jira.rateLimit({ times: 2 })
      const path = searchPath({ jql: 'project = OPS' })
      const limited = [await call<ErrorBody>(path), await call<ErrorBody>(path)]
      for (const res of limited) {
        expect(res.status).toBe(429)
        expect(res.headers.get('retry-after')).toBe('1')
        expect(res.headers.get('ratelimit-reason')).toBe('jira-burst-based')
        expect(res.headers.get('x-ratelimit-reset')).toBe('2025-06-30T12:00Z')
      }
      expect((await call(path)).status).toBe(200)
    })

    it('scripts 503 with Retry-After', async () => {
      jira.unavailable({ retryAfterSeconds: 7, path: '/rest/api/3/issue' })
      jira.setIssues([aJiraIssue({ key: 'OPS-1' })])
      const res = await call('/rest/api/3/issue/OPS-1')
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('7')
      expect((await call('/rest/api/3/issue/OPS-1')).status).toBe(200)
    })
  })

  describe('security', () => {
    it('answers 401 to a wrong token, another email or no credentials', async () => {
      const wrong = `Basic ${Buffer.from('fake@example.com:nope').toString('base64')}`
      const other = `Basic ${Buffer.from('x@example.com:fake-jira-token').toString('base64')}`
      for (const authorization of [wrong, other, null, 'Bearer fake-jira-token']) {
        const res = await call(searchPath({ jql: 'project = OPS' }), { authorization })
        expect(res.status, String(authorization)).toBe(401)
      }
    })
  })
})

describe('fake jira issues, users and projects', () => {
  it('returns every field of an issue by id or key, and a 404 body once it is deleted', async () => {
    const issue = aJiraIssue({ key: 'OPS-9', fields: { description: null, assignee: null } })
    jira.setIssues([issue])
    const byKey = await call<JiraIssue>('/rest/api/3/issue/OPS-9')
    expect(byKey.body).toEqual({ ...issue, self: `${jira.url}/rest/api/3/issue/${issue.id}` })
    expect((await call<JiraIssue>(`/rest/api/3/issue/${issue.id}`)).body.key).toBe('OPS-9')
    jira.deleteIssue('OPS-9')
    const missing = await call<ErrorBody>(`/rest/api/3/issue/${issue.id}`)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({
      errorMessages: ['Issue does not exist or you do not have permission to see it.'],
      errors: {},
    })
  })

  it('bulk-fetches users, leaving unknown ids out', async () => {
    const users = ['a', 'b', 'c'].map((id) =>
      aJiraUser({ accountId: id, displayName: `User ${id}` }),
    )
    jira.setUsers(users)
    const res = await call<PageBean<{ accountId: string }>>(
      '/rest/api/3/user/bulk?accountId=a&accountId=nobody&accountId=c',
    )
    expect(res.body.values.map((user) => user.accountId)).toEqual(['a', 'c'])
    expect(res.body).toMatchObject({ startAt: 0, maxResults: 10, total: 2, isLast: true })
    expect((await call('/rest/api/3/user?accountId=nobody')).status).toBe(404)
    expect((await call('/rest/api/3/user?accountId=b')).status).toBe(200)
  })

  it('pages project search with a PageBean, clamping maxResults to 100', async () => {
    const projects = Array.from({ length: 130 }, (_, n) => ({
      id: String(20_000 + n),
      key: `P${String(n).padStart(3, '0')}`,
      name: `Project ${n}`,
    }))
    jira.setProjects(projects)
    const first = await call<PageBean<{ key: string }>>('/rest/api/3/project/search?maxResults=500')
    expect(first.body).toMatchObject({ startAt: 0, maxResults: 100, total: 130, isLast: false })
    expect(first.body.nextPage).toBe(
      `${jira.url}/rest/api/3/project/search?maxResults=500&startAt=100`,
    )
    const second = await call<PageBean<{ key: string }>>(
      (first.body.nextPage ?? '').replace(jira.url, ''),
    )
    expect(second.body).toMatchObject({ startAt: 100, total: 130, isLast: true })
    expect(second.body).not.toHaveProperty('nextPage')
    const keys = [...first.body.values, ...second.body.values].map((project) => project.key)
    expect(keys).toEqual(projects.map((project) => project.key))
    const byDefault = await call<PageBean<unknown>>(
      '/rest/api/3/project/search?keys=P001&keys=P002',
    )
    expect(byDefault.body).toMatchObject({ maxResults: 50, total: 2 })
    expect((await call('/rest/api/3/project/P007')).status).toBe(200)
    expect((await call('/rest/api/3/project/NOPE')).status).toBe(404)
  })
})

describe('jira sample data', () => {
  const options = { seed: 42, projects: 3, issues: 300, users: 10, now: new Date(NOW) }

  it('is the same for the same seed and different for another', () => {
    expect(sampleOrganisation(options)).toEqual(sampleOrganisation(options))
    expect(sampleOrganisation({ ...options, seed: 43 })).not.toEqual(sampleOrganisation(options))
  })

  it('mixes nulls, parents and every ADF kind, updated within two years before now', () => {
    const org = sampleOrganisation(options)
    const fields = org.issues.map((issue) => issue.fields)
    expect(fields.some((f) => f.description === null)).toBe(true)
    expect(fields.some((f) => f.assignee === null)).toBe(true)
    expect(fields.some((f) => f.parent !== undefined)).toBe(true)
    const types = new Set(JSON.stringify(fields.map((f) => f.description)).match(/"type":"\w+"/g))
    for (const type of [
      'heading',
      'bulletList',
      'orderedList',
      'codeBlock',
      'mention',
      'inlineCard',
      'hardBreak',
      'media',
      'futurePanel',
    ]) {
      expect(types.has(`"type":"${type}"`), type).toBe(true)
    }
    const updated = fields.map((f) => parseJiraTimestamp(f.updated))
    expect(Math.min(...updated)).toBeGreaterThanOrEqual(NOW - 2 * 365 * DAY)
    expect(Math.max(...updated)).toBeLessThanOrEqual(NOW)
    expect(Math.max(...updated) - Math.min(...updated)).toBeGreaterThan(365 * DAY)
    expect(new Set(org.issues.map((issue) => issue.key)).size).toBe(300)
  })
})

describe('jql parser', () => {
  it('never throws: any text parses or yields a message', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = parseJql(text, NOW)
        return result.ok || result.message.length > 0
      }),
    )
  })

  it('accepts exactly up to seven ORDER BY fields', () => {
    const jql = (n: number) => `project = A ORDER BY ${Array(n).fill('updated').join(', ')}`
    expect(parseJql(jql(7), NOW).ok).toBe(true)
    expect(parseJql(jql(8), NOW).ok).toBe(false)
  })

  it('reads relative dates against now', () => {
    const result = parseJql('project = A AND updated >= -2d', NOW)
    expect(result).toEqual({
      ok: true,
      query: {
        clauses: [
          { kind: 'project', values: ['A'] },
          { kind: 'date', field: 'updated', op: '>=', ms: NOW - 2 * DAY },
        ],
        orderBy: [],
      },
    })
  })
})
