import fc from 'fast-check'
import { afterAll, assert, beforeEach, describe, expect, it, vi } from 'vitest'
import { startFakeServer } from '#sandbox/fakes/server.ts'
import { startFakeTempo } from '#sandbox/fakes/tempo.ts'
import { aWorklog } from '#sandbox/fakes/tempo-data.ts'
import {
  createTempoClient,
  nextLinkAllowed,
  type TempoClientOptions,
  type WorklogPage,
} from './client.ts'

const tempo = await startFakeTempo()
const elsewhere = await startFakeServer(() => ({
  status: 200,
  body: { metadata: {}, results: [] },
}))

afterAll(async () => {
  await tempo.close()
  await elsewhere.close()
})

beforeEach(() => {
  tempo.reset()
  elsewhere.requests.length = 0
})

// No in-process retries unless a test is about them: one fault, one answer.
function client(options: Partial<TempoClientOptions> = {}) {
  return createTempoClient({
    baseUrl: tempo.url,
    apiToken: tempo.apiToken,
    retry: { attempts: 0 },
    ...options,
  })
}

function ok<T>(result: { ok: true; value: T } | { ok: false; message: string }): T {
  assert(result.ok, JSON.stringify(result))
  return result.value
}

describe('tempo client', () => {
  describe('happy', () => {
    it('reads every page by following metadata.next, with the filters and a Bearer token', async () => {
      const worklogs = [1, 2, 3, 4, 5].map((n) =>
        aWorklog({ tempoWorklogId: n, startDate: `2025-01-0${n}`, projectId: 10_000 + (n % 2) }),
      )
      tempo.setWorklogs(worklogs)
      const tempoClient = client()
      const pages: WorklogPage[] = []
      let page = ok(
        await tempoClient.listWorklogs({
          from: '2025-01-01',
          to: '2025-01-31',
          projectIds: ['10000', '10001'],
          limit: 2,
        }),
      )
      pages.push(page)
      while (page.next) {
        page = ok(await tempoClient.nextPage(page.next))
        pages.push(page)
      }
      expect(pages.map((p) => p.worklogs.map((w) => w.id))).toEqual([['1', '2'], ['3', '4'], ['5']])
      const first = tempo.requests[0]!
      expect(first.path).toBe('/4/worklogs')
      expect(first.query.get('from')).toBe('2025-01-01')
      expect(first.query.get('to')).toBe('2025-01-31')
      expect(first.query.getAll('projectId')).toEqual(['10000', '10001'])
      expect(first.query.get('limit')).toBe('2')
      expect(first.query.get('offset')).toBe('0')
      expect(tempo.requests.map((r) => r.headers.authorization)).toEqual(
        Array(3).fill(`Bearer ${tempo.apiToken}`),
      )
      expect(tempo.requests.map((r) => r.query.get('offset'))).toEqual(['0', '2', '4'])
    })

    it('maps Tempo numbers to string ids and fills what v4 leaves out', async () => {
      tempo.setWorklogs([
        aWorklog({
          tempoWorklogId: 4711,
          issueId: 10_991,
          authorAccountId: '712020:ab',
          timeSpentSeconds: 5400,
          startDate: '2025-01-06',
          startTime: '09:30:00',
          description: 'Review ABC-12',
          updatedAt: '2025-01-07T08:00:00Z',
        }),
      ])
      const page = ok(await client().listWorklogs({ from: '2025-01-01', to: '2025-01-31' }))
      expect(page).toEqual({
        worklogs: [
          {
            id: '4711',
            issueId: '10991',
            accountId: '712020:ab',
            authorEmail: null,
            timeSpentSeconds: 5400,
            startDate: '2025-01-06',
            startTime: '09:30:00',
            description: 'Review ABC-12',
            updatedAt: new Date('2025-01-07T08:00:00Z'),
          },
        ],
        invalid: 0,
        invalidIds: [],
        next: null,
      })
    })

    it('sends updatedFrom as a UTC date-time without milliseconds', async () => {
      tempo.setWorklogs([
        aWorklog({ tempoWorklogId: 1, updatedAt: '2025-03-01T10:00:00Z' }),
        aWorklog({ tempoWorklogId: 2, updatedAt: '2025-03-02T10:00:00Z' }),
      ])
      const page = ok(
        await client().listWorklogs({ updatedFrom: new Date('2025-03-01T12:00:00.250Z') }),
      )
      expect(tempo.requests[0]?.query.get('updatedFrom')).toBe('2025-03-01T12:00:00Z')
      expect(page.worklogs.map((w) => w.id)).toEqual(['2'])
    })

    it('waits for the pace hook before every request', async () => {
      tempo.setWorklogs([1, 2, 3].map((n) => aWorklog({ tempoWorklogId: n })))
      const order: string[] = []
      const pace = vi.fn(async () => {
        order.push(`pace before request ${tempo.requests.length + 1}`)
      })
      const tempoClient = client({ pace })
      const first = ok(await tempoClient.listWorklogs({ limit: 2 }))
      ok(await tempoClient.nextPage(first.next!))
      expect(order).toEqual(['pace before request 1', 'pace before request 2'])
    })
  })

  describe('errors', () => {
    it('retries transient failures in process before giving up', async () => {
      tempo.setWorklogs([aWorklog({ tempoWorklogId: 1 })])
      tempo.fail({ kind: 'respond', status: 503, body: {}, times: 1 })
      tempo.fail({ kind: 'drop', times: 1 })
      const retrying = client({ retry: { attempts: 2, baseDelayMs: 10 } })
      const page = ok(await retrying.listWorklogs({}))
      expect(page.worklogs.map((w) => w.id)).toEqual(['1'])
      expect(tempo.requests).toHaveLength(3)
      tempo.fail({ kind: 'respond', status: 500, body: {}, times: 3 })
      expect(await retrying.listWorklogs({})).toMatchObject({ reason: 'unavailable' })
      expect(tempo.requests).toHaveLength(6)
    })

    it('returns a long Retry-After at once and tells onThrottle when to resume', async () => {
      const throttled: number[] = []
      tempo.fail({ kind: 'respond', status: 429, headers: { 'retry-after': '30' }, body: {} })
      const result = await client({
        retry: { attempts: 2, maxWaitMs: 5000 },
        now: () => 1_000_000,
        onThrottle: (until) => {
          throttled.push(until)
        },
      }).listWorklogs({})
      expect(result).toMatchObject({ reason: 'rate-limited', retryAfterMs: 30_000 })
      expect(throttled).toEqual([1_030_000])
      expect(tempo.requests).toHaveLength(1)
    })

    it('does not retry what a person must fix', async () => {
      tempo.fail({ kind: 'respond', status: 401, body: {}, times: 3 })
      const result = await client({ retry: { attempts: 2, baseDelayMs: 10 } }).listWorklogs({})
      expect(result).toMatchObject({ reason: 'unauthorized' })
      expect(tempo.requests).toHaveLength(1)
    })

    it('reports a 429 as rate-limited with Retry-After in ms', async () => {
      tempo.fail({ kind: 'respond', status: 429, headers: { 'retry-after': '3' }, body: {} })
      const result = await client().listWorklogs({})
      expect(result).toMatchObject({ ok: false, reason: 'rate-limited', retryAfterMs: 3000 })
    })

    it('waits at least a second after a 429 without Retry-After', async () => {
      tempo.fail({ kind: 'respond', status: 429, body: {} })
      const result = await client().listWorklogs({})
      expect(result).toMatchObject({ ok: false, reason: 'rate-limited', retryAfterMs: 1000 })
    })

    it.each([
      [500, 'unavailable'],
      [502, 'unavailable'],
      [503, 'unavailable'],
      [400, 'bad-request'],
      [401, 'unauthorized'],
      [403, 'forbidden'],
      [404, 'not-found'],
    ])('maps HTTP %i to %s', async (status, reason) => {
      tempo.fail({ kind: 'respond', status, body: { errors: [{ message: 'no' }] } })
      const result = await client().listWorklogs({})
      expect(result).toMatchObject({ ok: false, reason, status })
    })

    it('keeps the Retry-After of a 503', async () => {
      tempo.fail({ kind: 'respond', status: 503, headers: { 'retry-after': '7' }, body: {} })
      expect(await client().listWorklogs({})).toMatchObject({
        reason: 'unavailable',
        retryAfterMs: 7000,
      })
    })

    it('reports a wrong token as unauthorized', async () => {
      const result = await client({ apiToken: 'wrong' }).listWorklogs({})
      expect(result).toMatchObject({ ok: false, reason: 'unauthorized', status: 401 })
    })

    it('times out a hanging request', async () => {
      tempo.fail({ kind: 'hang' })
      const result = await client({ timeoutMs: 200 }).listWorklogs({})
      expect(result).toMatchObject({ ok: false, reason: 'timeout' })
    })

    it('reports a dropped connection as a network failure', async () => {
      tempo.fail({ kind: 'drop' })
      expect(await client().listWorklogs({})).toMatchObject({ ok: false, reason: 'network' })
    })

    it('reports a body that is not a page as an invalid response', async () => {
      tempo.fail({ kind: 'respond', status: 200, body: 'oops' })
      expect(await client().listWorklogs({})).toMatchObject({ reason: 'invalid-response' })
      tempo.fail({ kind: 'respond', status: 200, body: { results: 'nope' } })
      expect(await client().listWorklogs({})).toMatchObject({ reason: 'invalid-response' })
    })

    it('counts malformed worklogs of a page instead of failing the page', async () => {
      const good = { tempoWorklogId: 1, issue: { id: 5 }, timeSpentSeconds: 60 }
      tempo.fail({
        kind: 'respond',
        status: 200,
        body: {
          metadata: { count: 3 },
          results: [
            { ...good, startDate: '2025-01-01', author: { accountId: 'a' } },
            { ...good, tempoWorklogId: 2, startDate: 'yesterday', author: { accountId: 'a' } },
            { ...good, tempoWorklogId: 3, startDate: '2025-01-01' },
          ],
        },
      })
      const page = ok(await client().listWorklogs({}))
      expect(page.worklogs.map((w) => w.id)).toEqual(['1'])
      expect(page.invalid).toBe(2)
    })

    it('names the malformed worklogs whose id it can still read, so they are kept', async () => {
      tempo.setWorklogs([
        aWorklog({ tempoWorklogId: 71 }),
        aWorklog({ tempoWorklogId: 72 }),
        aWorklog({ tempoWorklogId: 73 }),
      ])
      tempo.corruptWorklog(72)
      tempo.corruptWorklog(73, { withoutId: true })
      const page = ok(await client().listWorklogs({}))
      expect(page.worklogs.map((w) => w.id)).toEqual(['71'])
      expect(page).toMatchObject({ invalid: 2, invalidIds: ['72'] })
    })

    it('passes the caller’s abort on instead of calling it a Tempo failure', async () => {
      tempo.fail({ kind: 'hang' })
      const controller = new AbortController()
      const pending = client().listWorklogs({}, controller.signal)
      setTimeout(() => controller.abort(new Error('lease lost')), 50)
      await expect(pending).rejects.toThrow('lease lost')
    })
  })

  describe('base URL', () => {
    it('reaches /4/worklogs with the base URL as Tempo documents it (…/4) or without the version', async () => {
      tempo.setWorklogs([aWorklog({ tempoWorklogId: 81 })])
      for (const baseUrl of [tempo.url, `${tempo.url}/4`, `${tempo.url}/4/`]) {
        const page = ok(await client({ baseUrl }).listWorklogs({}))
        expect(
          page.worklogs.map((w) => w.id),
          baseUrl,
        ).toEqual(['81'])
      }
      expect(new Set(tempo.requests.map((r) => r.path))).toEqual(new Set(['/4/worklogs']))
    })
  })

  describe('security', () => {
    it('follows next links only to the configured origin or Tempo’s own hosts over https', () => {
      const configured = new URL('https://api.tempo.io/4/worklogs')
      const local = new URL('http://127.0.0.1:4000/4/worklogs')
      const allowed = (link: string, base = configured) => nextLinkAllowed(new URL(link), base)
      expect(allowed('https://api.tempo.io/4/worklogs?offset=50')).toBe(true)
      expect(allowed('https://api.eu.tempo.io/4/worklogs?offset=50')).toBe(true)
      expect(allowed('https://api.us.tempo.io/4/worklogs')).toBe(true)
      expect(allowed('http://127.0.0.1:4000/4/worklogs?offset=5', local)).toBe(true)
      expect(allowed('https://api.eu.tempo.io/4/worklogs', local)).toBe(true)
      expect(allowed('http://api.eu.tempo.io/4/worklogs')).toBe(false)
      expect(allowed('https://api.eu.tempo.io:8443/4/worklogs')).toBe(false)
      expect(allowed('https://api.tempo.io.evil.example/4/worklogs')).toBe(false)
      expect(allowed('https://evil.example/4/worklogs')).toBe(false)
      expect(allowed('https://api.tempo.io/4/accounts')).toBe(false)
      expect(allowed('https://u:p@api.tempo.io/4/worklogs')).toBe(false)
      expect(allowed('http://127.0.0.1:4001/4/worklogs', local)).toBe(false)
      // Whatever the link, the token only ever goes to Tempo's hosts over https or the configured origin.
      const tempoHosts = ['api.tempo.io', 'api.eu.tempo.io', 'api.us.tempo.io']
      fc.assert(
        fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (link) => {
          const url = new URL(link)
          const safe =
            url.origin === configured.origin ||
            (url.protocol === 'https:' && tempoHosts.includes(url.hostname))
          return !nextLinkAllowed(url, configured) || safe
        }),
      )
    })

    it('never follows a next link to another host, so the token stays with Tempo', async () => {
      const result = await client().nextPage(`${elsewhere.url}/4/worklogs?offset=2`)
      expect(result).toMatchObject({ ok: false, reason: 'bad-request' })
      expect(elsewhere.requests).toHaveLength(0)
      expect(tempo.requests).toHaveLength(0)
    })

    it('refuses next links to other paths or with credentials in them', async () => {
      const bad = [`${tempo.url}/4/accounts`, tempo.url.replace('//', '//user:pw@'), 'not a url']
      for (const link of bad) {
        expect(await client().nextPage(link), link).toMatchObject({ reason: 'bad-request' })
      }
      expect(tempo.requests).toHaveLength(0)
    })

    it('does not follow redirects', async () => {
      tempo.fail({
        kind: 'respond',
        status: 302,
        headers: { location: `${elsewhere.url}/4/worklogs` },
      })
      const result = await client().listWorklogs({})
      expect(result).toMatchObject({ ok: false, status: 302 })
      expect(elsewhere.requests).toHaveLength(0)
    })

    it('keeps the token out of failure messages', async () => {
      tempo.fail({ kind: 'respond', status: 500, body: { errors: [{ message: tempo.apiToken }] } })
      const result = await client().listWorklogs({})
      expect(JSON.stringify(result)).not.toContain(tempo.apiToken)
    })
  })
})
