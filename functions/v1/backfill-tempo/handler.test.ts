import { randomBytes } from 'node:crypto'
import { and, eq } from 'drizzle-orm'
import { base64url, SignJWT } from 'jose'
import { beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { createAppTokens, keyIdOf, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#core/auth/tokens.ts'
import type { Role } from '#core/db/users.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { Services } from '#core/services.ts'
import { jobChunks, jobs, users } from '#db/schema.ts'
import { createTempoKinds } from '#pipelines/tempo/kinds.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createBackfillTempoHandler } from './handler.ts'

const getDatabase = useTestDatabase()
const SECRET = 'tempo-handler-secret-key-at-least-32-bytes'
const ADMIN_KEY = 'apm_tempo-handler-test-admin-key-0123456789'
const OTHER_KEY = 'apm_tempo-handler-other-admin-key-0123456789'
const NOW = '2026-06-01T12:00:00.000Z'

type ErrorBody = {
  error: { code: string; message: string; requestId: string; details?: Record<string, unknown> }
}
type JobBody = {
  job: { id: string; kind: string; status: string; params: Record<string, unknown> }
  url: string
}

// Configured but unreachable upstreams: starting only plans, and a plan that asks Jira for its
// projects is refused at once and falls back to filtering by key.
const UNREACHABLE = {
  JIRA_BASE_URL: 'http://127.0.0.1:9',
  JIRA_EMAIL: 'bot@example.com',
  JIRA_API_TOKEN: 'unused',
  TEMPO_BASE_URL: 'http://127.0.0.1:9',
  TEMPO_API_TOKEN: 'unused',
  PINECONE_API_KEY: 'unused',
  PINECONE_INDEX_HOST: 'http://127.0.0.1:9',
}

/** The function over this file's database, with its own limiter, clock and log. */
function tempoFunction(seams: Partial<Services> = {}, env: Record<string, string> = UNREACHABLE) {
  const clock = fixedClock(NOW)
  const captured = captureLog()
  const services = {
    ...testServices({
      database: getDatabase(),
      clock,
      log: captured.log,
      env: {
        JWT_SECRET_KEY: SECRET,
        ADMIN_API_KEY_SHA256: [ADMIN_KEY, OTHER_KEY].map(adminKeyDigest).join(','),
        ...env,
      },
    }),
    ...seams,
  }
  const kinds = createTempoKinds(services)
  const main = webEntry({
    services: () => services,
    handler: (s) =>
      createBackfillTempoHandler({
        ...s,
        registry: createJobRegistry([kinds.backfill, kinds.sync]),
        basePath: '/api/v1/web/local/v1/backfill-tempo',
      }),
  })
  const call = async (options: Parameters<typeof aWebEvent>[0] = {}) =>
    main(aWebEvent(options), aContext())
  return { call, clock, ...captured }
}

const asAdmin = { 'x-admin-key': ADMIN_KEY }

async function aUser(role: Role) {
  const tag = randomBytes(4).toString('hex')
  const [user] = await getDatabase()
    .db.insert(users)
    .values({ email: `t-${tag}@example.com`, googleSub: `t-${tag}`, role })
    .returning()
  return user!
}

async function bearer(role: Role, clock = fixedClock(NOW)) {
  const tokens = createAppTokens({ secret: SECRET, ttlHours: 24, clock })
  const { token } = await tokens.issue(await aUser(role), { rememberMe: false })
  return token
}

async function tempoJobs() {
  return getDatabase().db.select().from(jobs).where(eq(jobs.kind, 'backfill-tempo'))
}

beforeEach(async () => {
  // One active Tempo backfill at a time across the file's database: start each test with none.
  await getDatabase().db.delete(jobs).where(eq(jobs.kind, 'backfill-tempo'))
})

describe('v1/backfill-tempo', () => {
  describe('happy', () => {
    it('queues a backfill of the last `days` as 30-day chunks and answers 202 with the job', async () => {
      const { call } = tempoFunction()
      const res = await call({ method: 'POST', headers: asAdmin, body: { days: 45 } })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      const { job, url } = res.body as JobBody
      expect(job).toMatchObject({ kind: 'backfill-tempo', status: 'queued' })
      expect(job.params).toEqual({ from: '2026-04-17', to: '2026-06-01', days: 45 })
      expect(url).toBe(`/api/v1/web/local/v1/backfill-tempo/${job.id}`)
      expect(res.headers.Location).toBe(url)
      const chunks = await getDatabase()
        .db.select({ scope: jobChunks.scope })
        .from(jobChunks)
        .where(eq(jobChunks.jobId, job.id))
        .orderBy(jobChunks.seq)
      expect(chunks.map((c) => c.scope)).toEqual([
        { mode: 'window', from: '2026-04-17', to: '2026-05-16', projects: null },
        { mode: 'window', from: '2026-05-17', to: '2026-06-01', projects: null },
      ])
    })

    it('defaults to 365 days and takes dates and projects from the query string', async () => {
      const { call } = tempoFunction()
      const first = await call({ method: 'POST', headers: asAdmin })
      expect((first.body as JobBody).job.params).toEqual({
        from: '2025-06-01',
        to: '2026-06-01',
        days: 365,
      })
      await getDatabase().db.delete(jobs).where(eq(jobs.kind, 'backfill-tempo'))
      const res = await call({
        method: 'POST',
        headers: asAdmin,
        query: { from: '2026-01-01', to: '2026-06-01', projects: 'OPS,WEB' },
      })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      expect((res.body as JobBody).job.params).toEqual({
        from: '2026-01-01',
        to: '2026-06-01',
        projects: ['OPS', 'WEB'],
      })
    })

    it('accepts an admin’s bearer token as well as the admin key', async () => {
      const { call } = tempoFunction()
      const token = await bearer('admin')
      const res = await call({
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: { from: '2026-05-01', to: '2026-05-31' },
      })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
    })

    it('lists, shows, cancels and resumes a backfill', async () => {
      const { call } = tempoFunction()
      const started = await call({ method: 'POST', headers: asAdmin, body: { days: 10 } })
      const { job } = started.body as JobBody
      const list = await call({ headers: asAdmin })
      expect(list.statusCode).toBe(200)
      expect((list.body as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id)).toContain(job.id)
      const shown = await call({ headers: asAdmin, path: `/${job.id}` })
      expect((shown.body as JobBody).job).toMatchObject({
        id: job.id,
        progress: { chunksTotal: 1 },
      })
      const cancelled = await call({ method: 'DELETE', headers: asAdmin, path: `/${job.id}` })
      expect(cancelled.statusCode, JSON.stringify(cancelled.body)).toBe(202)
      const resumed = await call({ method: 'POST', headers: asAdmin, path: `/${job.id}/resume` })
      expect(resumed.statusCode, JSON.stringify(resumed.body)).toBe(202)
      expect((resumed.body as JobBody).job.status).toBe('queued')
    })
  })

  describe('errors', () => {
    it.each([
      ['unpadded dates', { from: '2024-1-1', to: '2024-01-31' }, 'from'],
      ['an impossible date', { from: '2024-02-01', to: '2024-02-30' }, 'to'],
      ['tomorrow', { from: '2026-05-01', to: '2026-06-02' }, 'to'],
      ['a reversed range', { from: '2026-03-02', to: '2026-03-01' }, 'to'],
      ['only from', { from: '2026-03-01' }, 'to'],
      ['only to', { to: '2026-03-01' }, 'from'],
      ['days with dates', { days: 30, from: '2026-03-01', to: '2026-03-02' }, 'days'],
      ['non-numeric days', { days: 'thirty' }, 'days'],
      ['an unknown field', { days: 3, batch_id: 'x' }, 'batch_id'],
    ])('answers 400 naming the field for %s, and queues nothing', async (_name, body, field) => {
      const { call } = tempoFunction()
      const res = await call({ method: 'POST', headers: asAdmin, body })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(400)
      const { error } = res.body as ErrorBody
      expect(error.code).toBe('BAD_REQUEST')
      const issues = error.details?.issues as Array<{ path: string }>
      expect(issues.map((issue) => issue.path)).toContain(field)
      expect(await tempoJobs()).toEqual([])
    })

    it('answers 503 naming the missing settings, and queues nothing, when Tempo is not configured', async () => {
      const { TEMPO_API_TOKEN: _, ...withoutTempo } = UNREACHABLE
      const { call } = tempoFunction({}, withoutTempo)
      const res = await call({ method: 'POST', headers: asAdmin, body: { days: 5 } })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(503)
      expect((res.body as ErrorBody).error).toMatchObject({
        code: 'UNAVAILABLE',
        message: 'Tempo imports need settings that are missing: TEMPO_*.',
      })
      expect(await tempoJobs()).toEqual([])
    })

    it('answers 409 with the active job while one runs', async () => {
      const { call } = tempoFunction()
      const first = await call({ method: 'POST', headers: asAdmin, body: { days: 5 } })
      const second = await call({ method: 'POST', headers: asAdmin, body: { days: 50 } })
      expect(second.statusCode, JSON.stringify(second.body)).toBe(409)
      const { error } = second.body as ErrorBody
      expect(error.details?.job).toMatchObject({ id: (first.body as JobBody).job.id })
      expect(await tempoJobs()).toHaveLength(1)
    })

    it('answers 404 for an unknown job and 400 for a malformed id', async () => {
      const { call } = tempoFunction()
      const unknown = await call({
        headers: asAdmin,
        path: '/00000000-0000-4000-8000-000000000000',
      })
      expect(unknown.statusCode).toBe(404)
      const malformed = await call({ headers: asAdmin, path: '/not-a-uuid' })
      expect(malformed.statusCode).toBe(400)
    })

    it('answers 500 with only a code, a message and the request id when the queue fails', async () => {
      const failing = {
        getJob: async () => {
          throw new Error('connection to 10.0.0.5 refused for user secret_admin')
        },
      } as unknown as Services['jobs']
      const { call, text } = tempoFunction({ jobs: failing })
      const res = await call({
        headers: { ...asAdmin, 'x-request-id': 'req-tempo-500-check' },
        path: '/00000000-0000-4000-8000-000000000000',
      })
      expect(res.statusCode).toBe(500)
      expect(res.body).toEqual({
        error: {
          code: 'INTERNAL',
          message: 'The server could not complete this request.',
          requestId: 'req-tempo-500-check',
        },
      })
      expect(text()).toContain('req-tempo-500-check')
    })
  })

  describe('security', () => {
    it('refuses a request without credentials (401) and queues nothing', async () => {
      const { call } = tempoFunction()
      const res = await call({ method: 'POST', body: { days: 5 } })
      expect(res.statusCode).toBe(401)
      expect((res.body as ErrorBody).error.code).toBe('UNAUTHENTICATED')
      expect(await tempoJobs()).toEqual([])
    })

    it('refuses a wrong admin key', async () => {
      const { call } = tempoFunction()
      const res = await call({ method: 'POST', headers: { 'x-admin-key': 'apm_wrong' } })
      expect(res.statusCode).toBe(401)
    })

    it('refuses a member (403), and expired, tampered and wrong-alg tokens (401)', async () => {
      const { call } = tempoFunction()
      const member = await bearer('member')
      const expiredClock = fixedClock('2026-05-30T00:00:00.000Z')
      const expired = await bearer('admin', expiredClock)
      const good = await bearer('admin')
      const tampered = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`
      const admin = await aUser('admin')
      const hs512 = await new SignJWT({ role: 'admin', ver: 0 })
        .setProtectedHeader({ alg: 'HS512', kid: keyIdOf(SECRET) })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(admin.id)
        .setJti('jti-hs512')
        .setIssuedAt(Date.parse(NOW) / 1000)
        .setExpirationTime(Date.parse(NOW) / 1000 + 3600)
        .sign(new TextEncoder().encode(SECRET))
      const payload = good.split('.')[1]
      const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`
      const status = async (token: string) =>
        (await call({ method: 'POST', headers: { authorization: `Bearer ${token}` } })).statusCode
      expect(await status(member)).toBe(403)
      expect(await status(expired)).toBe(401)
      expect(await status(tampered)).toBe(401)
      expect(await status(hs512)).toBe(401)
      expect(await status(none)).toBe(401)
      expect(await tempoJobs()).toEqual([])
    })

    it('allows 5 starts an hour per principal, then 429 with Retry-After', async () => {
      const { call } = tempoFunction()
      const statuses: number[] = []
      for (let n = 0; n < 6; n += 1) {
        const res = await call({ method: 'POST', headers: asAdmin, body: { days: 5 } })
        statuses.push(res.statusCode)
        if (n === 5) {
          expect(Number(res.headers['Retry-After'])).toBeGreaterThan(0)
          expect((res.body as ErrorBody).error.code).toBe('RATE_LIMITED')
        }
      }
      expect(statuses).toEqual([202, 409, 409, 409, 409, 429])
      const other = await call({ method: 'POST', headers: { 'x-admin-key': OTHER_KEY }, body: {} })
      expect(other.statusCode).toBe(409) // another principal has its own budget
    })

    it('keeps the admin key and tokens out of the log', async () => {
      const { call, text } = tempoFunction()
      const token = await bearer('admin')
      await call({ method: 'POST', headers: asAdmin, body: { days: 5 } })
      await call({
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: { days: 5 },
      })
      await call({ method: 'POST', headers: { 'x-admin-key': 'apm_wrong-key-in-log?' } })
      const log = text()
      expect(log.length).toBeGreaterThan(0)
      expect(log).not.toContain(ADMIN_KEY)
      expect(log).not.toContain(token)
      expect(log).not.toContain('apm_wrong-key-in-log?')
    })

    it('does not reach a job of another kind through its id', async () => {
      const { call } = tempoFunction()
      const [other] = await getDatabase()
        .db.insert(jobs)
        .values({ kind: 'backfill-jira', createdBy: 'test', status: 'succeeded' })
        .returning()
      const res = await call({ headers: asAdmin, path: `/${other!.id}` })
      expect(res.statusCode).toBe(404)
      await getDatabase()
        .db.delete(jobs)
        .where(and(eq(jobs.id, other!.id)))
    })
  })
})
