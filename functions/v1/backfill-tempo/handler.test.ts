import { eq } from 'drizzle-orm'
import { beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { Services } from '#core/services.ts'
import { jobChunks, jobs } from '#db/schema.ts'
import { createTempoKinds } from '#pipelines/tempo/kinds.ts'
import { describeBackfillSecurity } from '#test/backfill-security.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { errorOf, webCaller } from '#test/harness.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createBackfillTempoHandler } from './handler.ts'

const getDatabase = useTestDatabase()
const SECRET = 'tempo-handler-secret-key-at-least-32-bytes'
const ADMIN_KEY = 'apm_tempo-handler-test-admin-key-0123456789'
const OTHER_KEY = 'apm_tempo-handler-other-admin-key-0123456789'
const NOW = '2026-06-01T12:00:00.000Z'
const FUNCTION = '/local/v1/backfill-tempo'

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
      }),
  })
  const call = webCaller(main, { functionName: FUNCTION, newAddressPerCall: true })
  return { call, clock, ...captured }
}

const asAdmin = { 'x-admin-key': ADMIN_KEY }

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
      expect(url).toBe(`/api/v1/web${FUNCTION}/${job.id}`)
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
      const error = errorOf(res)
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
      expect(errorOf(res)).toMatchObject({
        code: 'UNAVAILABLE',
        message: 'Tempo imports need settings that are missing: TEMPO_*.',
      })
      expect(await tempoJobs()).toEqual([])
    })
  })

  describeBackfillSecurity({
    setup: (options = {}) => {
      const { call, text } = tempoFunction(
        options.rateLimiter ? { rateLimiter: options.rateLimiter } : {},
        { ...UNREACHABLE, ...options.env },
      )
      return { call, logText: text, jobCount: async () => (await tempoJobs()).length }
    },
    db: () => getDatabase().db,
    jwtSecret: SECRET,
    adminKey: ADMIN_KEY,
    otherAdminKey: OTHER_KEY,
    now: new Date(NOW),
    start: { body: { days: 5 } },
    startsPerHour: 5,
    secrets: () => [UNREACHABLE.TEMPO_API_TOKEN, UNREACHABLE.PINECONE_API_KEY],
  })
})
