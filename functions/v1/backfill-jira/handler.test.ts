import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { AppError } from '#core/errors.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { parseInput } from '#core/validation/parse.ts'
import { projects } from '#db/schema.ts'
import { BackfillJiraInput } from '#pipelines/jira/inputs.ts'
import { createJiraBackfillKind } from '#pipelines/jira/kinds.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { describeBackfillSecurity } from '#test/backfill-security.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import type { aWebEvent } from '#test/events.ts'
import { useFakeJira } from '#test/fakes.ts'
import { aUser, bearer, errorOf, tokenFor, webCaller } from '#test/harness.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { createBackfillJiraHandler } from './handler.ts'

const getDatabase = useTestDatabase()
const NOW = new Date('2026-06-01T12:00:00.000Z')
const SECRET = 'backfill-jira-test-secret-at-least-32-bytes'
const ADMIN_KEY = `apm_${randomBytes(16).toString('hex')}`
const OTHER_KEY = `apm_${randomBytes(16).toString('hex')}`
const FUNCTION = '/local/v1/backfill-jira'
const BASE_PATH = `/api/v1/web${FUNCTION}`

type JobBody = {
  job: {
    id: string
    kind: string
    status: string
    params: unknown
    progress: { chunksTotal: number }
  }
  url: string
}

const jira = useFakeJira()
beforeEach(async () => {
  // The dedupe key is global: each test starts without active jobs or project rows.
  await getDatabase().pool.query('delete from jobs; delete from projects')
})

/** The function over this file's database and the fake Jira, with its own limiter and log. */
function backfillFunction(
  options: { rateLimiter?: RateLimiter; env?: Record<string, string>; planTimeoutMs?: number } = {},
) {
  const captured = captureLog()
  const services = testServices({
    database: getDatabase(),
    clock: fixedClock(NOW),
    log: captured.log,
    env: {
      JWT_SECRET_KEY: SECRET,
      ADMIN_API_KEY_SHA256: [ADMIN_KEY, OTHER_KEY].map(adminKeyDigest).join(','),
      ...upstreamEnv({ jira }),
      PINECONE_API_KEY: 'pc-test-key-never-logged',
      PINECONE_INDEX_HOST: 'http://127.0.0.1:9',
      ...options.env,
    },
    ...(options.rateLimiter && { rateLimiter: options.rateLimiter }),
  })
  const main = webEntry({
    services: () => services,
    handler: (s) =>
      createBackfillJiraHandler({
        ...s,
        registry:
          options.planTimeoutMs === undefined
            ? createPipelineRegistry(s)
            : createJobRegistry([
                createJiraBackfillKind({ ...s, planTimeoutMs: options.planTimeoutMs }),
              ]),
      }),
    fallbackLog: captured.log,
  })
  // A new client address per call, so only the per-principal limit is ever reached.
  const call = webCaller(main, { functionName: FUNCTION, newAddressPerCall: true })
  return { call, services, ...captured }
}

const asAdmin = { 'x-admin-key': ADMIN_KEY }

const adminToken = async () =>
  tokenFor(await aUser(getDatabase().db, { role: 'admin' }), {
    secret: SECRET,
    clock: fixedClock(NOW),
  })

async function jobCount(): Promise<number> {
  const result = await getDatabase().pool.query<{ n: string }>('select count(*) as n from jobs')
  return Number(result.rows[0]?.n)
}

describe('v1/backfill-jira', () => {
  describe('happy', () => {
    it('starts a job from the query string: 202 with the job, its URL and one chunk per project', async () => {
      const { call } = backfillFunction()
      const res = await call({
        method: 'POST',
        headers: asAdmin,
        query: { days: '30', projects: 'OPS,WEB' },
      })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      const body = res.body as JobBody
      expect(body.job).toMatchObject({
        kind: 'backfill-jira',
        status: 'queued',
        params: { days: 30, projects: ['OPS', 'WEB'] },
      })
      expect(body.job.progress.chunksTotal).toBe(2)
      expect(body.url).toBe(`${BASE_PATH}/${body.job.id}`)
      expect(res.headers.Location).toBe(body.url)
      const chunks = await getDatabase().pool.query(
        'select scope from job_chunks where job_id = $1 order by seq',
        [body.job.id],
      )
      expect(chunks.rows.map((row) => row.scope)).toEqual([
        { project: 'OPS', fromMs: NOW.getTime() - 30 * 86_400_000, toMs: NOW.getTime() },
        { project: 'WEB', fromMs: NOW.getTime() - 30 * 86_400_000, toMs: NOW.getTime() },
      ])
    })

    it("starts from a JSON body with an admin's token, over the active projects, 2555 days by default", async () => {
      const { call } = backfillFunction()
      await getDatabase()
        .db.insert(projects)
        .values([{ key: 'DATA' }, { key: 'OLD', isActive: false }])
      const res = await call({ method: 'POST', headers: bearer(await adminToken()), body: {} })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      const body = res.body as JobBody
      expect(body.job.params).toEqual({ days: 2555 })
      expect(body.job.progress.chunksTotal).toBe(1)
    })

    it('covers every project Jira shows when none are active', async () => {
      const { call } = backfillFunction()
      jira.setProjects([
        { id: '1', key: 'ALPHA', name: 'A' },
        { id: '2', key: 'BETA', name: 'B' },
        { id: '3', key: 'GAMMA', name: 'C' },
      ])
      const res = await call({ method: 'POST', headers: asAdmin, body: { days: 7 } })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      expect((res.body as JobBody).job.progress.chunksTotal).toBe(3)
    })
  })

  describe('errors', () => {
    const badStarts: Array<[string, Parameters<typeof aWebEvent>[0]]> = [
      ['zero days', { query: { days: '0' } }],
      ['negative days', { query: { days: '-1' } }],
      ['fractional days', { query: { days: '1.5' } }],
      ['non-numeric days', { query: { days: 'abc' } }],
      ['days over 3650', { query: { days: '3651' } }],
      ['huge days', { query: { days: '99999999999999999999' } }],
      ['fractional JSON days', { body: { days: 2.5 } }],
      ['boolean days', { body: { days: true } }],
      ['a lower-case key', { query: { projects: 'ops' } }],
      ['a key with a space', { query: { projects: 'OPS,W EB' } }],
      ['an empty key', { query: { projects: 'OPS,,WEB' } }],
      ['an injection attempt', { query: { projects: 'OPS" OR project = "X' } }],
      ['101 keys', { body: { projects: Array.from({ length: 101 }, (_, n) => `P${n}`) } }],
      ['a non-string key', { body: { projects: ['OPS', 1] } }],
      ['an unknown field', { query: { days: '3', force: 'yes' } }],
      ['a body that is not an object', { body: ['OPS'] }],
    ]
    for (const [what, event] of badStarts) {
      it(`refuses ${what} with 400 and queues nothing`, async () => {
        const { call } = backfillFunction()
        const res = await call({ method: 'POST', headers: asAdmin, ...event })
        expect(res.statusCode, JSON.stringify(res.body)).toBe(400)
        expect(errorOf(res).code).toBe('BAD_REQUEST')
        expect(await jobCount()).toBe(0)
      })
    }

    it('names the offending field and never echoes the value', async () => {
      const { call } = backfillFunction()
      const res = await call({
        method: 'POST',
        headers: asAdmin,
        query: { days: 'secret-ish', projects: 'OPS' },
      })
      expect(errorOf(res).details).toEqual({ issues: [expect.objectContaining({ path: 'days' })] })
      expect(JSON.stringify(res.body)).not.toContain('secret-ish')
    })

    it('answers a bare 503 and queues nothing when Jira cannot list its projects', async () => {
      const { call, text } = backfillFunction()
      jira.fail({
        kind: 'respond',
        status: 503,
        path: '/rest/api/3/project/search',
        body: { errorMessages: ['db password=hunter2'] },
        times: 10,
      })
      const res = await call({ method: 'POST', headers: asAdmin })
      expect(res.statusCode).toBe(503)
      expect(res.body).toEqual({
        error: { code: 'UNAVAILABLE', message: expect.any(String), requestId: expect.any(String) },
      })
      expect(JSON.stringify(res.body)).not.toContain('hunter2')
      expect(text()).toContain('Could not list the Jira projects')
      expect(await jobCount()).toBe(0)
    })

    it('answers 503 in time and queues nothing when Jira hangs or its calls are paused', async () => {
      const { call, services, text } = backfillFunction({ planTimeoutMs: 300 })
      jira.fail({ kind: 'hang', path: '/rest/api/3/project/search', times: 1 })
      const hung = await call({ method: 'POST', headers: asAdmin })
      expect(hung.statusCode, JSON.stringify(hung.body)).toBe(503)
      expect(hung.body).toEqual({
        error: {
          code: 'UNAVAILABLE',
          message: 'Jira did not answer in time; try again.',
          requestId: expect.any(String),
        },
      })
      // A hang the deadline did not cut would outlast the test's own time limit.
      expect(jira.requests).toHaveLength(1) // no retry once the deadline passed
      // A pause after a 429 holds every Jira call: planning gives up without calling.
      await services.pacer.pauseUntil('jira', NOW.getTime() + 60_000)
      const paused = await call({ method: 'POST', headers: asAdmin })
      expect(paused.statusCode, JSON.stringify(paused.body)).toBe(503)
      expect(jira.requests).toHaveLength(1)
      expect(text()).toContain('Jira did not answer in time; try again.')
      expect(await jobCount()).toBe(0)
    })

    it('refuses to queue when Jira is not configured: 503, the variables named in the log', async () => {
      const { call, text } = backfillFunction({ env: { JIRA_BASE_URL: '' } })
      const res = await call({ method: 'POST', headers: asAdmin, query: { projects: 'OPS' } })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(503)
      expect(errorOf(res).code).toBe('UNAVAILABLE')
      expect(text()).toContain(
        'Jira is not configured (JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN).',
      )
      expect(await jobCount()).toBe(0)
    })

    it('accepts exactly 1–3650 days, and any input either parses or is a BAD_REQUEST', () => {
      for (const days of [1, 3650, '1', ' 3650 ']) {
        expect(parseInput(BackfillJiraInput, { days }).days).toBe(Number(days))
      }
      fc.assert(
        fc.property(fc.integer({ min: -10_000, max: 10_000 }), (days) => {
          const ok = v(() => parseInput(BackfillJiraInput, { days }))
          expect(ok).toBe(days >= 1 && days <= 3650)
        }),
      )
      fc.assert(
        fc.property(
          fc.anything(),
          fc.dictionary(fc.constantFrom('days', 'projects', 'x'), fc.anything()),
          (raw, fields) => {
            for (const input of [raw, fields]) {
              try {
                parseInput(BackfillJiraInput, input)
              } catch (err) {
                expect(err instanceof AppError && err.code === 'BAD_REQUEST').toBe(true)
              }
            }
          },
        ),
      )
    })
  })

  describeBackfillSecurity({
    setup: async (options) => {
      const { call, text } = backfillFunction(options)
      return { call, logText: text, jobCount }
    },
    db: () => getDatabase().db,
    jwtSecret: SECRET,
    adminKey: ADMIN_KEY,
    otherAdminKey: OTHER_KEY,
    now: NOW,
    start: { query: { projects: 'OPS' } },
    startsPerHour: 3,
    secrets: () => [jira.apiToken, 'pc-test-key-never-logged'],
  })

  it('keeps Jira’s credentials and its error text out of the log and the answer when it fails', async () => {
    const { call, text } = backfillFunction()
    jira.fail({ kind: 'respond', status: 500, path: '/rest/api/3/project/search', times: 10 })
    const res = await call({ method: 'POST', headers: asAdmin })
    expect(res.statusCode).toBe(503)
    const log = text()
    expect(log).toContain('Could not list the Jira projects')
    for (const secret of [ADMIN_KEY, jira.apiToken, SECRET, 'pc-test-key-never-logged']) {
      expect(log).not.toContain(secret)
    }
  })
})

/** Whether `parse` returns rather than throws. */
function v(parse: () => unknown): boolean {
  try {
    parse()
    return true
  } catch {
    return false
  }
}
