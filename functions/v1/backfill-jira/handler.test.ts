import { randomBytes, randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { SignJWT } from 'jose'
import { beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { createAppTokens } from '#core/auth/tokens.ts'
import type { User } from '#core/db/users.ts'
import { AppError } from '#core/errors.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { parseInput } from '#core/validation/parse.ts'
import { projects, users } from '#db/schema.ts'
import { createJiraBackfillKind } from '#pipelines/jira/kinds.ts'
import { createJobKinds } from '#pipelines/registry.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { useFakeJira } from '#test/fakes.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { BackfillJiraInput, createBackfillJiraHandler } from './handler.ts'

const getDatabase = useTestDatabase()
const NOW = new Date('2026-06-01T12:00:00.000Z')
const SECRET = 'backfill-jira-test-secret-at-least-32-bytes'
const ADMIN_KEY = `apm_${randomBytes(16).toString('hex')}`
const BASE_PATH = '/api/v1/web/local/v1/backfill-jira'

type ErrorBody = { error: { code: string; message: string; requestId: string; details?: unknown } }
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
type Call = (
  event?: Parameters<typeof aWebEvent>[0],
) => Promise<{ statusCode: number; headers: Record<string, string>; body?: unknown }>

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
      ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY),
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
        registry: createJobRegistry(
          options.planTimeoutMs === undefined
            ? createJobKinds(s)
            : [createJiraBackfillKind({ ...s, planTimeoutMs: options.planTimeoutMs })],
        ),
        basePath: BASE_PATH,
      }),
    fallbackLog: captured.log,
  })
  let ip = 0
  // A new client address per call, so only the per-principal limit is ever reached.
  const call: Call = (event = {}) => {
    ip += 1
    return main(aWebEvent({ ip: `198.51.100.${ip % 250}`, ...event }), aContext())
  }
  return { call, services, ...captured }
}

const asAdmin = { 'x-admin-key': ADMIN_KEY }

async function aUser(role: User['role']): Promise<User> {
  const tag = randomBytes(4).toString('hex')
  const [user] = await getDatabase()
    .db.insert(users)
    .values({ email: `b-${tag}@example.com`, googleSub: `b-${tag}`, role })
    .returning()
  return user!
}

async function bearer(user: User, clock = fixedClock(NOW)) {
  const tokens = createAppTokens({ secret: SECRET, ttlHours: 24, clock })
  const { token } = await tokens.issue(user, { rememberMe: false })
  return token
}

async function jobCount(): Promise<number> {
  const result = await getDatabase().pool.query<{ n: string }>('select count(*) as n from jobs')
  return Number(result.rows[0]?.n)
}

const errorOf = (res: { body?: unknown }) => (res.body as ErrorBody).error

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
      const token = await bearer(await aUser('admin'))
      const res = await call({
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: {},
      })
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

    it('answers a second start with 409 and the active job, creating nothing', async () => {
      const { call } = backfillFunction()
      const first = await call({ method: 'POST', headers: asAdmin, query: { projects: 'OPS' } })
      const second = await call({ method: 'POST', headers: asAdmin, query: { projects: 'WEB' } })
      expect(second.statusCode).toBe(409)
      expect(errorOf(second).details).toEqual({ job: (first.body as JobBody).job })
      expect(await jobCount()).toBe(1)
    })

    it('lists recent jobs of this kind only, newest first', async () => {
      const { call, services } = backfillFunction()
      await services.jobs.enqueue({
        kind: 'backfill-tempo',
        params: {},
        scopes: [{}],
        createdBy: 'test',
      })
      const started = (await call({ method: 'POST', headers: asAdmin, query: { projects: 'OPS' } }))
        .body as JobBody
      const res = await call({ headers: asAdmin, query: { limit: '5' } })
      expect(res.statusCode).toBe(200)
      expect((res.body as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id)).toEqual([
        started.job.id,
      ])
    })

    it('shows progress, cancels and resumes a job', async () => {
      const { call } = backfillFunction()
      const started = (await call({ method: 'POST', headers: asAdmin, query: { projects: 'OPS' } }))
        .body as JobBody
      const path = `/${started.job.id}`
      const shown = await call({ path, headers: asAdmin })
      expect(shown.statusCode).toBe(200)
      expect((shown.body as JobBody).job).toEqual(started.job)
      const cancelled = await call({ method: 'DELETE', path, headers: asAdmin })
      expect(cancelled.statusCode, JSON.stringify(cancelled.body)).toBe(202)
      expect((cancelled.body as JobBody).job.status).toBe('cancelled')
      const resumed = await call({ method: 'POST', path: `${path}/resume`, headers: asAdmin })
      expect(resumed.statusCode, JSON.stringify(resumed.body)).toBe(202)
      expect((resumed.body as JobBody).job.status).toBe('queued')
      const again = await call({ method: 'POST', path: `${path}/resume`, headers: asAdmin })
      expect(again.statusCode).toBe(409)
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

    it('answers 400 for a malformed job id, 404 for an unknown one and for a job of another kind', async () => {
      const { call, services } = backfillFunction()
      expect((await call({ path: '/not-a-uuid', headers: asAdmin })).statusCode).toBe(400)
      expect((await call({ method: 'DELETE', path: '/123', headers: asAdmin })).statusCode).toBe(
        400,
      )
      expect((await call({ path: `/${randomUUID()}`, headers: asAdmin })).statusCode).toBe(404)
      const tempo = await services.jobs.enqueue({
        kind: 'backfill-tempo',
        params: {},
        scopes: [{}],
        createdBy: 'test',
      })
      expect((await call({ path: `/${tempo.job.id}`, headers: asAdmin })).statusCode).toBe(404)
      expect(
        (await call({ method: 'POST', path: `/${tempo.job.id}/resume`, headers: asAdmin }))
          .statusCode,
      ).toBe(404)
    })

    it('answers 405 with Allow for another method', async () => {
      const { call } = backfillFunction()
      const res = await call({ method: 'DELETE', headers: asAdmin })
      expect(res.statusCode).toBe(405)
      expect(res.headers.Allow).toContain('POST')
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
      const started = Date.now()
      const hung = await call({ method: 'POST', headers: asAdmin })
      expect(hung.statusCode, JSON.stringify(hung.body)).toBe(503)
      expect(hung.body).toEqual({
        error: {
          code: 'UNAVAILABLE',
          message: 'Jira did not answer in time; try again.',
          requestId: expect.any(String),
        },
      })
      expect(Date.now() - started).toBeLessThan(5000)
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

  describe('security', () => {
    it('refuses a start without credentials, with a wrong key, or with a member’s token, queueing nothing', async () => {
      const { call } = backfillFunction()
      const none = await call({ method: 'POST', query: { projects: 'OPS' } })
      expect(none.statusCode).toBe(401)
      const wrongKey = await call({
        method: 'POST',
        headers: { 'x-admin-key': 'apm_wrong' },
        query: { projects: 'OPS' },
      })
      expect(wrongKey.statusCode).toBe(401)
      const member = await bearer(await aUser('member'))
      const forbidden = await call({
        method: 'POST',
        headers: { authorization: `Bearer ${member}` },
        query: { projects: 'OPS' },
      })
      expect(forbidden.statusCode).toBe(403)
      expect(await jobCount()).toBe(0)
    })

    it('refuses expired, tampered and wrong-algorithm tokens', async () => {
      const { call } = backfillFunction()
      const admin = await aUser('admin')
      const expired = await bearer(admin, fixedClock(new Date(NOW.getTime() - 48 * 3600_000)))
      const valid = await bearer(admin)
      const [header, payload, signature] = valid.split('.')
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<
        string,
        unknown
      >
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: randomUUID() })).toString(
        'base64url',
      )
      const tampered = `${header}.${forged}.${signature}`
      const hs512 = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS512' })
        .sign(new TextEncoder().encode(SECRET))
      const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`
      for (const token of [expired, tampered, hs512, unsigned]) {
        const res = await call({
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          query: { projects: 'OPS' },
        })
        expect(res.statusCode, token).toBe(401)
        expect(errorOf(res).code).toBe('UNAUTHENTICATED')
      }
      expect(await jobCount()).toBe(0)
    })

    it('guards every route, not only the start', async () => {
      const { call } = backfillFunction()
      const id = randomUUID()
      for (const event of [
        { method: 'GET' },
        { method: 'GET', path: `/${id}` },
        { method: 'DELETE', path: `/${id}` },
        { method: 'POST', path: `/${id}/resume` },
      ]) {
        expect((await call(event)).statusCode, JSON.stringify(event)).toBe(401)
      }
    })

    it('allows three starts an hour per principal: the fourth gets 429 with Retry-After', async () => {
      const { call } = backfillFunction()
      const statuses: number[] = []
      let last: Awaited<ReturnType<Call>> | undefined
      for (let n = 0; n < 4; n += 1) {
        last = await call({ method: 'POST', headers: asAdmin, query: { projects: 'OPS' } })
        statuses.push(last.statusCode)
      }
      expect(statuses).toEqual([202, 409, 409, 429])
      expect(Number(last?.headers['Retry-After'])).toBeGreaterThan(0)
      expect(last?.headers['RateLimit-Limit']).toBe('3')
      // Another principal still has its own three.
      const token = await bearer(await aUser('admin'))
      const other = await call({
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        query: { projects: 'OPS' },
      })
      expect(other.statusCode).toBe(409)
    })

    it('fails closed with 503 when the rate-limit store is down', async () => {
      const down: RateLimiter = {
        consume: async () => ({ kind: 'unavailable', reason: 'timeout' }),
        check: async () => ({ ok: false, store: 'upstash' }),
      }
      const { call } = backfillFunction({ rateLimiter: down })
      const res = await call({ method: 'POST', headers: asAdmin, query: { projects: 'OPS' } })
      expect(res.statusCode).toBe(503)
      expect(await jobCount()).toBe(0)
    })

    it('logs no credential, token or secret', async () => {
      const { call, text } = backfillFunction()
      const token = await bearer(await aUser('admin'))
      await call({ method: 'POST', headers: asAdmin, query: { projects: 'OPS' } })
      await call({
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        query: { projects: 'OPS' },
      })
      await call({ method: 'POST', headers: { 'x-admin-key': 'apm_wrong-key-value' } })
      jira.fail({ kind: 'respond', status: 500, path: '/rest/api/3/project/search', times: 10 })
      await getDatabase().pool.query('delete from jobs')
      await call({ method: 'POST', headers: asAdmin })
      const log = text()
      expect(log).toContain('backfill queued')
      for (const secret of [
        ADMIN_KEY,
        token,
        'apm_wrong-key-value',
        jira.apiToken,
        SECRET,
        'pc-test-key-never-logged',
      ]) {
        expect(log).not.toContain(secret)
      }
    })
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
