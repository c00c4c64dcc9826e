import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { useFakeTempo } from '#test/fakes.ts'
import { startFakeTempo } from './tempo.ts'
import { aWorklog, sampleWorklogs } from './tempo-data.ts'

type WireWorklog = Record<string, unknown> & {
  tempoWorklogId: number
  issue: Record<string, unknown>
  author: Record<string, unknown>
  startDate: string
  updatedAt: string
}
type Page = {
  self: string
  metadata: { count: number; offset: number; limit: number; next?: string }
  results: WireWorklog[]
}

const ISSUES = [
  { id: '10001', projectId: '100' },
  { id: '10002', projectId: '100' },
  { id: '20001', projectId: '200' },
]
const ACCOUNTS = ['712020:aa', '712020:bb', '557058:cc']

async function call(url: string, token: string) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown }
}

describe('fake tempo', () => {
  const tempo = useFakeTempo()

  async function page(query: string): Promise<Page> {
    const res = await call(`${tempo.url}/4/worklogs${query}`, tempo.apiToken)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    return res.body as Page
  }

  async function ids(query: string): Promise<number[]> {
    return (await page(query)).results.map((worklog) => worklog.tempoWorklogId)
  }

  describe('happy', () => {
    it('returns every worklog exactly once, in startDate then id order, when following metadata.next', async () => {
      const worklogs = sampleWorklogs({
        seed: 3,
        count: 123,
        issues: ISSUES,
        accountIds: ACCOUNTS,
        from: '2025-01-01',
        to: '2025-01-31',
      })
      tempo.setWorklogs(worklogs)
      const pages: Page[] = []
      let next: string | undefined =
        `${tempo.url}/4/worklogs?from=2025-01-01&to=2025-01-31&limit=50`
      while (next !== undefined) {
        const res = await call(next, tempo.apiToken)
        expect(res.status, JSON.stringify(res.body)).toBe(200)
        const current = res.body as Page
        pages.push(current)
        next = current.metadata.next
      }

      const expected = [...worklogs]
        .sort(
          (a, b) => a.startDate.localeCompare(b.startDate) || a.tempoWorklogId - b.tempoWorklogId,
        )
        .map((worklog) => worklog.tempoWorklogId)
      expect(pages.flatMap((p) => p.results.map((w) => w.tempoWorklogId))).toEqual(expected)
      expect(pages.map((p) => p.metadata.count)).toEqual([50, 50, 23])
      expect(pages[0]?.metadata.next).toBe(
        `${tempo.url}/4/worklogs?from=2025-01-01&to=2025-01-31&limit=50&offset=50`,
      )
      expect(tempo.requests.map((r) => r.query.get('offset'))).toEqual([null, '50', '100'])
    })

    it('defaults to offset 0 and limit 50', async () => {
      tempo.setWorklogs(Array.from({ length: 51 }, (_, n) => aWorklog({ tempoWorklogId: n + 1 })))
      const first = await page('')
      expect(first.metadata).toEqual({
        count: 50,
        offset: 0,
        limit: 50,
        next: `${tempo.url}/4/worklogs?offset=50`,
      })
      expect(first.self).toBe(`${tempo.url}/4/worklogs`)
    })

    it('filters on startDate with from and to both inclusive', async () => {
      tempo.setWorklogs([
        aWorklog({ tempoWorklogId: 1, startDate: '2025-01-31' }),
        aWorklog({ tempoWorklogId: 2, startDate: '2025-02-01' }),
        aWorklog({ tempoWorklogId: 3, startDate: '2025-02-28' }),
        aWorklog({ tempoWorklogId: 4, startDate: '2025-03-01' }),
      ])
      expect(await ids('?from=2025-02-01&to=2025-02-28')).toEqual([2, 3])
    })

    it('filters on updatedAt ≥ updatedFrom, given as a date or a UTC date-time', async () => {
      tempo.setWorklogs([
        aWorklog({ tempoWorklogId: 1, updatedAt: '2025-01-09T23:59:59Z' }),
        aWorklog({ tempoWorklogId: 2, updatedAt: '2025-01-10T00:00:00Z' }),
        aWorklog({ tempoWorklogId: 3, updatedAt: '2025-01-10T12:00:00Z' }),
      ])
      expect(await ids('?updatedFrom=2025-01-10')).toEqual([2, 3])
      expect(await ids('?updatedFrom=2025-01-10T12:00:00Z')).toEqual([3])
      expect(await ids('?updatedFrom=2025-01-10T12:00:00Z&from=2025-01-07')).toEqual([])
    })

    it('filters on repeated numeric projectId and issueId, and ignores projectKey', async () => {
      tempo.setWorklogs([
        aWorklog({ tempoWorklogId: 1, projectId: 100, issueId: 10001 }),
        aWorklog({ tempoWorklogId: 2, projectId: 200, issueId: 20001 }),
        aWorklog({ tempoWorklogId: 3, projectId: 300, issueId: 30001 }),
      ])
      expect(await ids('?projectId=100')).toEqual([1])
      expect(await ids('?projectId=100&projectId=300')).toEqual([1, 3])
      expect(await ids('?issueId=20001&issueId=30001')).toEqual([2, 3])
      expect(await ids('?projectKey=NOPE')).toEqual([1, 2, 3])
    })

    it('serves Tempo v4 worklog JSON: numeric ids, no key, project or author name', async () => {
      tempo.setWorklogs([
        aWorklog({
          tempoWorklogId: 4711,
          issueId: 10991,
          authorAccountId: '712020:ab',
          attributes: [{ key: '_Account_', value: 'ACME-01' }],
        }),
      ])
      const [worklog] = (await page('')).results
      expect(worklog).toEqual({
        self: `${tempo.url}/4/worklogs/4711`,
        tempoWorklogId: 4711,
        issue: { self: 'https://fake.atlassian.net/rest/api/2/issue/10991', id: 10991 },
        timeSpentSeconds: 5400,
        billableSeconds: 5400,
        startDate: '2025-01-06',
        startTime: '09:30:00',
        description: 'Review of the import job',
        createdAt: '2025-01-06T11:02:11Z',
        updatedAt: '2025-01-06T11:02:11Z',
        author: {
          self: 'https://fake.atlassian.net/rest/api/2/user?accountId=712020%3Aab',
          accountId: '712020:ab',
        },
        attributes: {
          self: `${tempo.url}/4/worklogs/4711/work-attribute-values`,
          values: [{ key: '_Account_', value: 'ACME-01' }],
        },
      })
    })
  })

  describe('mutations', () => {
    it('bumps updatedAt to the fake clock on edit, so updatedFrom finds the edit', async () => {
      tempo.setWorklogs([aWorklog({ tempoWorklogId: 1 }), aWorklog({ tempoWorklogId: 2 })])
      tempo.setNow('2025-03-04T05:06:07Z')
      tempo.editWorklog(2, { description: 'rewritten' })
      const edited = (await page('?updatedFrom=2025-03-04T05:06:07Z')).results
      expect(edited.map((w) => [w.tempoWorklogId, w.updatedAt, w.description])).toEqual([
        [2, '2025-03-04T05:06:07Z', 'rewritten'],
      ])
    })

    it('drops a deleted worklog from every later page without reporting it', async () => {
      tempo.setWorklogs([1, 2, 3].map((id) => aWorklog({ tempoWorklogId: id })))
      tempo.deleteWorklog(2)
      expect(await ids('')).toEqual([1, 3])
      expect(() => tempo.deleteWorklog(2)).toThrow(/no worklog 2/)
    })

    it('adds a worklog inside a scanned window with the next id and the fake clock', async () => {
      tempo.setWorklogs([aWorklog({ tempoWorklogId: 7, startDate: '2025-01-06' })])
      tempo.setNow('2025-01-07T08:00:00Z')
      const added = tempo.addWorklog({ startDate: '2025-01-06' })
      expect(added).toMatchObject({ tempoWorklogId: 8, updatedAt: '2025-01-07T08:00:00Z' })
      expect(await ids('?from=2025-01-06&to=2025-01-06')).toEqual([7, 8])
    })
  })

  describe('errors', () => {
    it('answers 400 to a limit above 5000 and accepts 5000', async () => {
      const over = await call(`${tempo.url}/4/worklogs?limit=5001`, tempo.apiToken)
      expect(over.status).toBe(400)
      expect(over.body).toEqual({ errors: [{ message: expect.stringContaining('limit') }] })
      expect((await page('?limit=5000')).metadata.limit).toBe(5000)
    })

    it('answers 400 to the project parameter', async () => {
      const res = await call(`${tempo.url}/4/worklogs?project=OPS`, tempo.apiToken)
      expect(res.status).toBe(400)
      expect(res.body).toEqual({ errors: [{ message: expect.stringContaining('project') }] })
    })

    it.each([
      'from=2025-1-6',
      'to=2025-02-30',
      'to=06/01/2025',
      'updatedFrom=2025-01-06T10:00:00.000Z',
      'offset=-1',
      'limit=0',
      'projectId=OPS',
      'issueId=OPS-1',
    ])('answers 400 to the malformed query %s', async (query) => {
      const res = await call(`${tempo.url}/4/worklogs?${query}`, tempo.apiToken)
      expect(res.status, JSON.stringify(res.body)).toBe(400)
    })

    it('answers 429 with Retry-After above maxRequestsPerSecond', async () => {
      const limited = await startFakeTempo({ maxRequestsPerSecond: 2 })
      try {
        const statuses: number[] = []
        let last: Response | undefined
        for (let n = 0; n < 3; n += 1) {
          last = await fetch(`${limited.url}/4/worklogs`, {
            headers: { authorization: `Bearer ${limited.apiToken}` },
          })
          statuses.push(last.status)
        }
        expect(statuses).toEqual([200, 200, 429])
        expect(last?.headers.get('retry-after')).toBe('1')
      } finally {
        await limited.close()
      }
    })

    it('can leave Retry-After out of the 429', async () => {
      const limited = await startFakeTempo({ maxRequestsPerSecond: 1, sendRetryAfter: false })
      try {
        const url = `${limited.url}/4/worklogs`
        const headers = { authorization: `Bearer ${limited.apiToken}` }
        expect((await fetch(url, { headers })).status).toBe(200)
        const limitedRes = await fetch(url, { headers })
        expect(limitedRes.status).toBe(429)
        expect(limitedRes.headers.has('retry-after')).toBe(false)
      } finally {
        await limited.close()
      }
    })
  })

  describe('security', () => {
    it.each([
      ['no header', undefined],
      ['a wrong token', 'Bearer nope'],
      ['the token as Basic', 'Basic ZmFrZS10ZW1wby10b2tlbg=='],
    ])('answers 401 with an errors body to %s', async (_, authorization) => {
      tempo.setWorklogs([aWorklog()])
      const headers: Record<string, string> = authorization ? { authorization } : {}
      const res = await fetch(`${tempo.url}/4/worklogs`, { headers })
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({ errors: [{ message: expect.any(String) }] })
    })
  })
})

describe('sampleWorklogs', () => {
  const options = {
    seed: 42,
    count: 200,
    issues: ISSUES,
    accountIds: ACCOUNTS,
    from: '2025-01-01',
    to: '2025-01-31',
  }

  it('returns the same worklogs for the same seed and others for another seed', () => {
    expect(sampleWorklogs(options)).toEqual(sampleWorklogs(options))
    expect(sampleWorklogs({ ...options, seed: 43 })).not.toEqual(sampleWorklogs(options))
  })

  it('spreads valid worklogs over the inclusive range and the given issues and accounts', () => {
    const worklogs = sampleWorklogs(options)
    const dates = worklogs.map((w) => w.startDate).sort()
    expect(dates[0]).toBe('2025-01-01')
    expect(dates.at(-1)).toBe('2025-01-31')
    expect(new Set(worklogs.map((w) => w.tempoWorklogId)).size).toBe(200)
    expect(new Set(worklogs.map((w) => w.issueId))).toEqual(new Set([10001, 10002, 20001]))
    expect(new Set(worklogs.map((w) => w.authorAccountId))).toEqual(new Set(ACCOUNTS))
    for (const w of worklogs) {
      expect(w.projectId, JSON.stringify(w)).toBe(w.issueId === 20001 ? 200 : 100)
      expect(w.timeSpentSeconds).toBeGreaterThan(0)
      expect(w.startTime).toMatch(/^(0[7-9]|1[0-8]):(00|15|30|45):00$/)
      expect(w.updatedAt >= w.createdAt, JSON.stringify(w)).toBe(true)
      expect(w.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
    }
  })

  it('with `now`, stamps nothing after it and never updates before creating', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.date({
          min: new Date('2025-01-01T00:00:00Z'),
          max: new Date('2025-02-10T00:00:00Z'),
          noInvalidDate: true,
        }),
        (seed, now) => {
          const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z')
          for (const w of sampleWorklogs({ ...options, seed, count: 50, now })) {
            expect(w.createdAt <= stamp, JSON.stringify(w)).toBe(true)
            expect(w.updatedAt <= stamp, JSON.stringify(w)).toBe(true)
            expect(w.updatedAt >= w.createdAt, JSON.stringify(w)).toBe(true)
          }
        },
      ),
      { numRuns: 50 },
    )
    // Without it, a worklog of the last days may be stamped after them.
    const late = sampleWorklogs(options).filter((w) => w.updatedAt > '2025-02-01T00:00:00Z')
    expect(late.length).toBeGreaterThan(0)
  })

  it('varies descriptions, including empty ones and misleading issue keys', () => {
    const descriptions = sampleWorklogs(options).map((w) => w.description)
    expect(descriptions).toContain('')
    expect(descriptions).toContain('see OTHER-99')
    expect(new Set(descriptions).size).toBeGreaterThan(4)
  })
})
