import { assert, describe, expect, it, vi } from 'vitest'
import { aJiraIssue, aJiraUser } from '#sandbox/fakes/jira-data.ts'
import { useFakeJira } from '#test/fakes.ts'
import { jiraClientOn } from '#test/upstreams.ts'
import { isStalePageToken, type JiraClientOptions } from './client.ts'

const jira = useFakeJira()
const client = (overrides: Partial<JiraClientOptions> = {}) => jiraClientOn(jira, overrides)

const FIELDS = ['summary', 'updated', 'assignee'] as const

function issuesOf(project: string, count: number) {
  return Array.from({ length: count }, (_, n) =>
    aJiraIssue({ key: `${project}-${n + 1}`, id: String(50_000 + n) }),
  )
}

describe('jira client', () => {
  describe('happy', () => {
    it('pages search/jql by nextPageToken to the end with Basic auth and the fields asked for', async () => {
      jira.setIssues(issuesOf('OPS', 230))
      const jql = 'project = "OPS" ORDER BY key ASC'
      const keys: string[] = []
      let token: string | undefined
      for (let page = 0; page < 10; page += 1) {
        const result = await client().searchPage({
          jql,
          fields: FIELDS,
          maxResults: 100,
          ...(token && { nextPageToken: token }),
        })
        assert(result.ok, JSON.stringify(result))
        keys.push(...result.value.issues.map((issue) => issue.key))
        expect(result.value.issues[0]?.fields?.summary).toMatch(/^Summary of OPS-/)
        if (result.value.isLast) {
          expect(result.value.nextPageToken).toBeUndefined()
          break
        }
        token = result.value.nextPageToken
      }
      expect(new Set(keys).size).toBe(230)
      expect(jira.requests).toHaveLength(3)
      const first = jira.requests[0]
      expect(first?.path).toBe('/rest/api/3/search/jql')
      expect(first?.query.get('fields')).toBe('summary,updated,assignee')
      expect(first?.query.get('jql')).toBe(jql)
      expect(first?.query.get('nextPageToken')).toBeNull()
      expect(jira.requests[1]?.query.get('nextPageToken')).toBeTruthy()
      const auth = `Basic ${Buffer.from(`${jira.email}:${jira.apiToken}`).toString('base64')}`
      expect(first?.headers.authorization).toBe(auth)
    })

    it('lists every project over Jira pages of 100', async () => {
      jira.setProjects(
        Array.from({ length: 130 }, (_, n) => ({
          id: String(20_000 + n),
          key: `P${String(n).padStart(3, '0')}`,
          name: `Project ${n}`,
        })),
      )
      const result = await client().listProjects()
      assert(result.ok, JSON.stringify(result))
      expect(result.value).toHaveLength(130)
      expect(result.value[0]).toEqual({
        id: '20000',
        key: 'P000',
        name: 'Project 0',
        keys: ['P000'],
      })
      expect(jira.requests.map((r) => r.query.get('startAt'))).toEqual(['0', '100'])
    })

    it('resolves issue keys by id in batches of 100, leaving unknown and non-numeric ids out', async () => {
      const issues = issuesOf('DATA', 150)
      jira.setIssues(issues)
      const ids = [...issues.map((issue) => issue.id), '999999', '1) OR (1=1', '888888']
      const result = await client().issueKeysByIds(ids)
      assert(result.ok, JSON.stringify(result))
      expect(result.value).toHaveLength(150)
      expect(result.value).toContainEqual({
        id: '50000',
        key: 'DATA-1',
        projectKey: 'DATA',
        projectId: issues[0]?.fields.project.id,
      })
      const jqls = jira.requests.map((r) => (r.body as { jql: string }).jql)
      expect(jqls.every((jql) => !jql.includes('OR'))).toBe(true)
      expect(jqls[0]?.split(',')).toHaveLength(100)
    })

    it('drops every unknown id Jira names in one 400, so 60 unknown of 100 take two requests', async () => {
      const issues = issuesOf('MANY', 40)
      jira.setIssues(issues)
      const unknown = Array.from({ length: 60 }, (_, n) => String(900_000 + n))
      const ids = [
        ...unknown.slice(0, 30),
        ...issues.map((issue) => issue.id),
        ...unknown.slice(30),
      ]
      const result = await client().issueKeysByIds(ids)
      assert(result.ok, JSON.stringify(result))
      expect(result.value.map((found) => found.key).sort()).toEqual(
        issues.map((issue) => issue.key).sort(),
      )
      const jqls = jira.requests.map((r) => (r.body as { jql: string }).jql)
      expect(jqls).toHaveLength(2)
      expect(jqls[1]?.split(',')).toHaveLength(40)
    })

    it('asks again by halves when a 400 names none of the ids, leaving out one refused alone', async () => {
      const issues = issuesOf('HALF', 7)
      jira.setIssues(issues)
      const unhelpful = {
        kind: 'respond',
        method: 'POST',
        path: '/rest/api/3/search/jql',
        status: 400,
        body: { errorMessages: ['Die Abfrage ist ungültig.'], errors: {} },
        times: 1,
      } as const
      jira.fail(unhelpful)
      const ids = [...issues.map((issue) => issue.id), '990001', '990002', '990003']
      const result = await client().issueKeysByIds(ids)
      assert(result.ok, JSON.stringify(result))
      expect(result.value.map((found) => found.key).sort()).toEqual(
        issues.map((issue) => issue.key).sort(),
      )
      // 10 refused naming none; 5 answered; 5 refused naming 3; the other 2 answered.
      const sizes = () =>
        jira.requests.map((r) => (r.body as { jql: string }).jql.split(',').length)
      expect(sizes()).toEqual([10, 5, 5, 2])
      jira.fail(unhelpful)
      expect(await client().issueKeysByIds(['990009'])).toEqual({ ok: true, value: [] })
      expect(sizes()).toEqual([10, 5, 5, 2, 1])
    })

    it('looks users up in bulk, unknown ids absent', async () => {
      const users = Array.from({ length: 60 }, (_, n) =>
        aJiraUser({ accountId: `712020:user-${n}`, displayName: `User ${n}` }),
      )
      jira.setUsers(users)
      const result = await client().usersByAccountIds([
        ...users.map((u) => u.accountId),
        '712020:nobody',
      ])
      assert(result.ok, JSON.stringify(result))
      expect(result.value).toHaveLength(60)
      expect(result.value[0]).toEqual({ accountId: '712020:user-0', displayName: 'User 0' })
      expect(jira.requests.map((r) => r.query.getAll('accountId').length)).toEqual([50, 11])
    })

    it('waits for the pace before every request, retries included', async () => {
      jira.setIssues(issuesOf('OPS', 3))
      jira.unavailable({ times: 1, retryAfterSeconds: 0 })
      const pace = vi.fn(async () => {})
      const result = await client({ pace, retry: { attempts: 2, baseDelayMs: 1 } }).searchPage({
        jql: 'project = OPS',
        fields: FIELDS,
      })
      expect(result.ok).toBe(true)
      expect(jira.requests).toHaveLength(2)
      expect(pace).toHaveBeenCalledTimes(2)
    })
  })

  describe('renamed projects', () => {
    it('lists every key a project had and finds it, and its issues, by a former key', async () => {
      const issues = issuesOf('BETA', 3)
      jira.setIssues(issues)
      jira.renameProject('BETA', 'DELTA')
      const listed = await client().listProjects()
      assert(listed.ok, JSON.stringify(listed))
      const projectId = issues[0]?.fields.project.id
      expect(listed.value).toEqual([
        { id: projectId, key: 'DELTA', name: 'Project BETA', keys: ['DELTA', 'BETA'] },
      ])
      expect(jira.requests[0]?.query.get('expand')).toBe('projectKeys')
      const byOldKey = await client().getProject('BETA')
      assert(byOldKey.ok, JSON.stringify(byOldKey))
      expect(byOldKey.value).toMatchObject({ id: projectId, key: 'DELTA', keys: ['DELTA', 'BETA'] })
      const found = await client().issuesByKeys(['BETA-2', 'delta-3', 'BETA-99'], ['updated'])
      assert(found.ok, JSON.stringify(found))
      expect(found.value.map((issue) => [issue.id, issue.key])).toEqual([
        ['50001', 'DELTA-2'],
        ['50002', 'DELTA-3'],
      ])
      expect(await client().getProject('GAMMA')).toMatchObject({ ok: false, reason: 'not-found' })
    })
  })

  describe('errors', () => {
    it('never reads a page without isLast: true and without a token as the end of a scan', async () => {
      jira.setIssues(issuesOf('CUT', 30))
      jira.truncateSearch(1)
      const first = await client().searchPage({
        jql: 'project = CUT',
        fields: ['key'],
        maxResults: 10,
      })
      expect(first).toMatchObject({ ok: false, reason: 'invalid-response' })
      const whole = await client().searchPage({
        jql: 'project = CUT',
        fields: ['key'],
        maxResults: 10,
      })
      assert(whole.ok, JSON.stringify(whole))
      expect(whole.value).toMatchObject({ isLast: false })
      expect(whole.value.nextPageToken).toBeDefined()
    })

    it('ends a call stopped while waiting for the pace without sending it', async () => {
      const controller = new AbortController()
      const pace = vi.fn(async (signal?: AbortSignal) => {
        controller.abort(new Error('chunk stopped: time'))
        signal?.throwIfAborted()
      })
      const result = await client({ pace }).searchPage({
        jql: 'project = OPS',
        fields: FIELDS,
        signal: controller.signal,
      })
      expect(result).toMatchObject({ ok: false, reason: 'timeout' })
      expect(pace).toHaveBeenCalledWith(controller.signal, 'search')
      expect(jira.requests).toHaveLength(0)
    })

    it('stops listing projects when its signal aborts, whether Jira hangs or the pace holds', async () => {
      jira.fail({ kind: 'hang', path: '/rest/api/3/project/search', times: 1 })
      // The fake never answers: only the signal can end this call.
      const hung = await client({ retry: { attempts: 2 } }).listProjects(AbortSignal.timeout(100))
      expect(hung).toMatchObject({ ok: false, reason: 'timeout' })
      expect(jira.requests).toHaveLength(1)
      const pace = vi.fn(
        (signal?: AbortSignal) =>
          new Promise<void>((_resolve, reject) => {
            signal?.addEventListener('abort', () => reject(signal.reason))
          }),
      )
      const held = await client({ pace }).listProjects(AbortSignal.timeout(100))
      expect(held).toMatchObject({ ok: false, reason: 'timeout' })
      expect(pace).toHaveBeenCalledTimes(1)
      expect(jira.requests).toHaveLength(1)
    })

    const search = (options: Partial<JiraClientOptions> = {}) =>
      client(options).searchPage({ jql: 'project = OPS', fields: FIELDS })

    it('reports a 429 as rate-limited with the Retry-After wait, and tells the pacer', async () => {
      jira.setIssues(issuesOf('OPS', 1))
      jira.rateLimit({ retryAfterSeconds: 7 })
      const onThrottle = vi.fn()
      const result = await search({ onThrottle, now: () => 1_000_000 })
      expect(result).toMatchObject({
        ok: false,
        reason: 'rate-limited',
        status: 429,
        retryAfterMs: 7000,
      })
      expect(onThrottle).toHaveBeenCalledWith(1_007_000, 'search')
      // A look-up by another endpoint is paced, and held, under that endpoint's family.
      jira.rateLimit({ retryAfterSeconds: 7, path: '/rest/api/3/project/search' })
      await client({ onThrottle, now: () => 1_000_000 }).listProjects()
      expect(onThrottle).toHaveBeenLastCalledWith(1_007_000, 'other')
    })

    it('does not wait in process for a Retry-After longer than its limit', async () => {
      jira.setIssues(issuesOf('OPS', 1))
      jira.rateLimit({ retryAfterSeconds: 30, times: 5 })
      const result = await search({ retry: { attempts: 3, maxWaitMs: 1000 } })
      expect(result).toMatchObject({ ok: false, reason: 'rate-limited', retryAfterMs: 30_000 })
      expect(jira.requests).toHaveLength(1)
    })

    it('retries a 500 in process and gives up after its attempts', async () => {
      jira.setIssues(issuesOf('OPS', 1))
      jira.fail({ kind: 'respond', status: 500, body: { errorMessages: ['boom'] }, times: 5 })
      const result = await search({ retry: { attempts: 2, baseDelayMs: 1 } })
      expect(result).toMatchObject({ ok: false, reason: 'unavailable', status: 500 })
      expect(jira.requests).toHaveLength(3)
    })

    it('reports bad credentials as unauthorized without echoing them', async () => {
      const result = await search({ apiToken: 'wrong-secret-token' })
      assert(!result.ok)
      expect(result.reason).toBe('unauthorized')
      expect(result.message).not.toContain('wrong-secret-token')
      expect(jira.requests).toHaveLength(1)
    })

    it("reports a 400 as bad-request with Jira's own sentence", async () => {
      const result = await client().searchPage({ jql: 'project = NOPE', fields: FIELDS })
      expect(result).toMatchObject({ ok: false, reason: 'bad-request', status: 400 })
      assert(!result.ok)
      expect(result.message).toContain("The value 'NOPE' does not exist for the field 'project'.")
    })

    it('reports 403 and 404 as forbidden and not-found, never retried', async () => {
      jira.fail({ kind: 'respond', status: 403, body: { errorMessages: ['No.'] }, times: 1 })
      expect(await search({ retry: { attempts: 2 } })).toMatchObject({
        ok: false,
        reason: 'forbidden',
      })
      jira.fail({ kind: 'respond', status: 404, body: { errorMessages: ['Gone.'] }, times: 1 })
      expect(await search({ retry: { attempts: 2 } })).toMatchObject({
        ok: false,
        reason: 'not-found',
      })
      expect(jira.requests).toHaveLength(2)
    })

    it('recognises a page token Jira no longer accepts', async () => {
      jira.setIssues(issuesOf('OPS', 120))
      const first = await client().searchPage({ jql: 'project = OPS', fields: FIELDS })
      assert(first.ok && first.value.nextPageToken)
      jira.expireSearchTokens()
      const second = await client().searchPage({
        jql: 'project = OPS',
        fields: FIELDS,
        nextPageToken: first.value.nextPageToken,
      })
      assert(!second.ok)
      expect(isStalePageToken(second)).toBe(true)
    })

    it('reports a hanging Jira as a timeout and a dropped connection as a network failure', async () => {
      jira.fail({ kind: 'hang', times: 1 })
      expect(await search({ timeoutMs: 100 })).toMatchObject({ ok: false, reason: 'timeout' })
      jira.fail({ kind: 'drop', times: 1 })
      expect(await search()).toMatchObject({ ok: false, reason: 'network' })
    })

    it('treats a body it cannot read as an outage', async () => {
      jira.fail({ kind: 'respond', status: 200, body: '<html>proxy</html>', times: 1 })
      expect(await search()).toMatchObject({ ok: false, reason: 'unavailable' })
      jira.fail({ kind: 'respond', status: 200, body: { issues: [{ key: 'OPS-1' }] }, times: 1 })
      expect(await search()).toMatchObject({ ok: false, reason: 'unavailable' })
    })
  })
})
