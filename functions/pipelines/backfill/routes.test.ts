import { randomUUID } from 'node:crypto'
import * as v from 'valibot'
import { beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { Services } from '#core/services.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { errorOf, webCaller } from '#test/harness.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createSyntheticKind, memorySink } from '#test/synthetic-kind.ts'
import { createBackfillHandler } from './routes.ts'

// The five routes both backfill functions share, once, against a synthetic kind: its start takes
// `keys` (a comma list) and plans one chunk per key.

const getDatabase = useTestDatabase()
const ADMIN_KEY = 'apm_routes-test-admin-key-0123456789abcdef'
const FUNCTION = '/local/v1/backfill-synthetic'
const BASE_PATH = `/api/v1/web${FUNCTION}`
const asAdmin = { 'x-admin-key': ADMIN_KEY }

const SyntheticInput = v.strictObject({
  /** the chunks' keys, a comma list */
  keys: v.pipe(
    v.optional(v.string(), 'a'),
    v.regex(/^[a-z]+(,[a-z]+)*$/),
    v.transform((keys) => ({
      scopes: keys.split(',').map((key) => ({ key, pages: 1, perPage: 1 })),
    })),
  ),
})

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

beforeEach(async () => {
  await getDatabase().pool.query('delete from jobs')
})

function routesFunction(seams: Partial<Services> = {}) {
  const captured = captureLog()
  const services = {
    ...testServices({
      database: getDatabase(),
      clock: fixedClock(),
      log: captured.log,
      env: { ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY) },
    }),
    ...seams,
  }
  const kind = createSyntheticKind({ sink: memorySink() })
  const main = webEntry({
    services: () => services,
    handler: (s) =>
      createBackfillHandler(
        { ...s, registry: createJobRegistry([kind]) },
        {
          kind: 'synthetic',
          label: 'synthetic backfill',
          input: v.pipe(
            SyntheticInput,
            v.transform((input) => input.keys),
          ),
          dedupeKey: () => 'synthetic',
          rateRule: { name: 'synthetic-start', limit: 100, windowSeconds: 3600 },
        },
      ),
    fallbackLog: captured.log,
  })
  const call = webCaller(main, { functionName: FUNCTION, newAddressPerCall: true })
  return { call, services, ...captured }
}

async function jobCount(): Promise<number> {
  const result = await getDatabase().pool.query<{ n: string }>('select count(*) as n from jobs')
  return Number(result.rows[0]?.n)
}

describe('backfill routes', () => {
  describe('happy', () => {
    it('starts a job: 202 with the job, its URL under the function’s path and Location', async () => {
      const { call } = routesFunction()
      const res = await call({ method: 'POST', headers: asAdmin, query: { keys: 'a,b' } })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      const body = res.body as JobBody
      expect(body.job).toMatchObject({ kind: 'synthetic', status: 'queued' })
      expect(body.job.progress.chunksTotal).toBe(2)
      expect(body.url).toBe(`${BASE_PATH}/${body.job.id}`)
      expect(res.headers.Location).toBe(body.url)
    })

    it('answers a second start with 409, the active job and its Location, creating nothing', async () => {
      const { call } = routesFunction()
      const first = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const second = await call({ method: 'POST', headers: asAdmin, body: { keys: 'b' } })
      expect(second.statusCode).toBe(409)
      expect(errorOf(second).details).toEqual({ job: first.job })
      expect(second.headers.Location).toBe(first.url)
      expect(await jobCount()).toBe(1)
    })

    it('lists recent jobs of this kind only, newest first', async () => {
      const { call, services } = routesFunction()
      await services.jobs.enqueue({ kind: 'other', params: {}, scopes: [{}], createdBy: 'test' })
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const res = await call({ headers: asAdmin, query: { limit: '5' } })
      expect(res.statusCode).toBe(200)
      expect((res.body as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id)).toEqual([
        started.job.id,
      ])
    })

    it('shows progress, cancels and resumes a job; a second resume is a conflict', async () => {
      const { call } = routesFunction()
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const path = `/${started.job.id}`
      const shown = await call({ path, headers: asAdmin })
      expect(shown.statusCode).toBe(200)
      expect((shown.body as JobBody).job).toEqual(started.job)
      const cancelled = await call({ method: 'DELETE', path, headers: asAdmin })
      expect(cancelled.statusCode, JSON.stringify(cancelled.body)).toBe(202)
      expect((cancelled.body as JobBody).job.status).toBe('cancelled')
      expect(cancelled.headers.Location).toBe(`${BASE_PATH}${path}`)
      const again = await call({ method: 'DELETE', path, headers: asAdmin })
      expect(again.statusCode).toBe(409)
      const resumed = await call({ method: 'POST', path: `${path}/resume`, headers: asAdmin })
      expect(resumed.statusCode, JSON.stringify(resumed.body)).toBe(202)
      expect((resumed.body as JobBody).job.status).toBe('queued')
      const twice = await call({ method: 'POST', path: `${path}/resume`, headers: asAdmin })
      expect(twice.statusCode).toBe(409)
    })
  })

  describe('errors', () => {
    it('refuses an unknown field, a malformed value and a body that is not an object, queueing nothing', async () => {
      const { call } = routesFunction()
      for (const event of [
        { query: { keys: 'a', force: 'yes' } },
        { query: { keys: 'A B' } },
        { body: ['a'] },
        { body: 'a' },
      ]) {
        const res = await call({ method: 'POST', headers: asAdmin, ...event })
        expect(res.statusCode, JSON.stringify(event)).toBe(400)
        expect(errorOf(res).code).toBe('BAD_REQUEST')
      }
      expect(await jobCount()).toBe(0)
    })

    it('answers 400 for a malformed job id, 404 for an unknown one and for a job of another kind', async () => {
      const { call, services } = routesFunction()
      expect((await call({ path: '/not-a-uuid', headers: asAdmin })).statusCode).toBe(400)
      expect((await call({ method: 'DELETE', path: '/123', headers: asAdmin })).statusCode).toBe(
        400,
      )
      expect((await call({ path: `/${randomUUID()}`, headers: asAdmin })).statusCode).toBe(404)
      const other = await services.jobs.enqueue({
        kind: 'other',
        params: {},
        scopes: [{}],
        createdBy: 'test',
      })
      for (const [method, path] of [
        ['GET', `/${other.job.id}`],
        ['DELETE', `/${other.job.id}`],
        ['POST', `/${other.job.id}/resume`],
      ] as const) {
        expect((await call({ method, path, headers: asAdmin })).statusCode, method).toBe(404)
      }
    })

    it('answers 405 with Allow for another method, and 404 for another path', async () => {
      const { call } = routesFunction()
      const res = await call({ method: 'DELETE', headers: asAdmin })
      expect(res.statusCode).toBe(405)
      expect(res.headers.Allow).toContain('POST')
      expect((await call({ path: '/a/b/c', headers: asAdmin })).statusCode).toBe(404)
    })

    it('answers 500 with only a code, a message and the request id when the queue fails', async () => {
      const failing = {
        getJob: async () => {
          throw new Error('connection to 10.0.0.5 refused for user secret_admin')
        },
      } as unknown as Services['jobs']
      const { call, text } = routesFunction({ jobs: failing })
      const res = await call({
        headers: { ...asAdmin, 'x-request-id': 'req-routes-500-check' },
        path: '/00000000-0000-4000-8000-000000000000',
      })
      expect(res.statusCode).toBe(500)
      expect(res.body).toEqual({
        error: {
          code: 'INTERNAL',
          message: 'The server could not complete this request.',
          requestId: res.headers['X-Request-Id'],
        },
      })
      // Ours is the activation id; the client's id is logged beside it.
      expect(text()).toContain(`"requestId":"${res.headers['X-Request-Id']}"`)
      expect(text()).toContain('"clientRequestId":"req-routes-500-check"')
    })
  })
})
