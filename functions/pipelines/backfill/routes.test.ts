import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import * as v from 'valibot'
import { assert, beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import type { DoContext } from '#core/platform/do-event.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { Services } from '#core/services.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext } from '#test/events.ts'
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
    progress: { chunksTotal: number; itemsWritten: number }
  }
  url: string
}

beforeEach(async () => {
  await getDatabase().pool.query('delete from jobs')
})

function routesFunction(
  seams: Partial<Services> = {},
  options: {
    clock?: ReturnType<typeof fixedClock>
    sleep?: (ms: number) => Promise<void>
    context?: () => DoContext
  } = {},
) {
  const captured = captureLog()
  const services = {
    ...testServices({
      database: getDatabase(),
      clock: options.clock ?? fixedClock(),
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
        {
          ...s,
          registry: createJobRegistry([kind]),
          ...(options.sleep && { sleep: options.sleep }),
        },
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
  const call = webCaller(main, {
    functionName: FUNCTION,
    newAddressPerCall: true,
    ...(options.context && { context: options.context }),
  })
  return { call, services, ...captured }
}

type Shown = JobBody & { version: string }

/**
 * The routes with a sleep that moves the clock and then runs `onTick` (the n-th sleep, from 1), so
 * a test changes the job between a long poll's reads and counts the reads.
 */
function waitingFunction(
  onTick: (tick: number, services: Services) => Promise<void> = noop,
  options: { remainingMs?: number } = {},
) {
  const clock = fixedClock()
  const sleeps: number[] = []
  // The activation's deadline on the test's clock, which the sleeps move.
  const now = () => clock.now().getTime()
  const fn = routesFunction(
    {},
    {
      clock,
      context: () => aContext(options.remainingMs ?? 60_000, now),
      sleep: async (ms) => {
        sleeps.push(ms)
        clock.advance(ms)
        await onTick(sleeps.length, fn.services)
      },
    },
  )
  return { ...fn, sleeps, clock }
}
const noop = async () => {}

/** A worker's claim and one page (`written` items) of the synthetic job's first chunk. */
async function workOnePage(services: Services, written: number) {
  const claimed = await services.jobs.claim({ kinds: ['synthetic'], leaseMs: 60_000 })
  assert(claimed, 'no chunk to claim')
  await services.jobs.checkpoint(claimed.lease, { page: 1 }, { fetched: written, written }, 60_000)
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
    it('answers a long poll at the first read after the job changes, with its new version', async () => {
      const { call, sleeps } = waitingFunction(async (tick, services) => {
        if (tick === 3) {
          await workOnePage(services, 5)
        }
      })
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const path = `/${started.job.id}`
      const before = (await call({ path, headers: asAdmin })).body as Shown
      const changed = await call({ path, headers: asAdmin, query: { waitSeconds: '20' } })
      expect(changed.statusCode, JSON.stringify(changed.body)).toBe(200)
      expect(sleeps).toEqual([500, 500, 500])
      const body = changed.body as Shown
      expect(body.job).toMatchObject({ status: 'running', progress: { itemsWritten: 5 } })
      expect(body.version).toMatch(/^[0-9a-f]{16}$/)
      expect(body.version).not.toBe(before.version)
    })

    it('answers at once when the job moved on since the version the caller passes', async () => {
      const { call, sleeps, services } = waitingFunction()
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const path = `/${started.job.id}`
      const seen = (await call({ path, headers: asAdmin })).body as Shown
      // A page lands between two polls: passing `since` keeps the caller from missing it.
      await workOnePage(services, 3)
      const res = await call({
        path,
        headers: asAdmin,
        query: { waitSeconds: '20', since: seen.version },
      })
      expect(sleeps).toEqual([])
      expect((res.body as Shown).job.progress.itemsWritten).toBe(3)
      // Passing the current version waits for the next change.
      const current = (res.body as Shown).version
      const timedOut = await call({
        path,
        headers: asAdmin,
        query: { waitSeconds: '1', since: current },
      })
      expect(sleeps).toEqual([500, 500])
      expect((timedOut.body as Shown).version).toBe(current)
    })

    it('answers the unchanged job after waitSeconds, reading it every 500 ms', async () => {
      const { call, sleeps, clock } = waitingFunction()
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const path = `/${started.job.id}`
      const from = clock.now().getTime()
      const res = await call({ path, headers: asAdmin, query: { waitSeconds: '2' } })
      expect(res.statusCode).toBe(200)
      expect(sleeps).toEqual([500, 500, 500, 500])
      expect(clock.now().getTime() - from).toBe(2000)
      expect((res.body as Shown).job).toEqual(started.job)
      await call({ path, headers: asAdmin, query: { waitSeconds: '0' } })
      expect(sleeps).toHaveLength(4)
    })

    it('waits no longer than the activation allows, less 5 s to answer', async () => {
      const { call, sleeps, clock } = waitingFunction(noop, { remainingMs: 7000 })
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const from = clock.now().getTime()
      const res = await call({
        path: `/${started.job.id}`,
        headers: asAdmin,
        query: { waitSeconds: '20' },
      })
      expect(res.statusCode).toBe(200)
      expect(clock.now().getTime() - from).toBe(2000)
      expect(sleeps).toEqual([500, 500, 500, 500])
    })

    it('answers at once for a finished job, whatever the wait asked for', async () => {
      const { call, sleeps } = waitingFunction()
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const path = `/${started.job.id}`
      await call({ method: 'DELETE', path, headers: asAdmin })
      const res = await call({ path, headers: asAdmin, query: { waitSeconds: '20' } })
      expect((res.body as Shown).job.status).toBe('cancelled')
      expect(sleeps).toEqual([])
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

    it('answers 404 when the job is deleted while a long poll waits', async () => {
      const { call } = waitingFunction(async (tick) => {
        if (tick === 2) {
          await getDatabase().pool.query('delete from jobs')
        }
      })
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const res = await call({
        path: `/${started.job.id}`,
        headers: asAdmin,
        query: { waitSeconds: '20' },
      })
      expect(res.statusCode).toBe(404)
      expect(errorOf(res).code).toBe('NOT_FOUND')
    })

    it('accepts waitSeconds only as a plain integer 0–20, and since only as a version', async () => {
      const { call } = routesFunction()
      const started = (await call({ method: 'POST', headers: asAdmin })).body as JobBody
      const path = `/${started.job.id}`
      await call({ method: 'DELETE', path, headers: asAdmin }) // finished: no waiting
      const status = async (query: Record<string, string>) =>
        (await call({ path, headers: asAdmin, query })).statusCode
      for (const ok of ['0', '1', '9', '10', '20']) {
        expect(await status({ waitSeconds: ok }), ok).toBe(200)
      }
      for (const bad of ['21', '99', '-1', '1.5', '05', '00', ' 5', '5 ', '+5', '1e1', '', 'x']) {
        expect(await status({ waitSeconds: bad }), JSON.stringify(bad)).toBe(400)
      }
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ maxLength: 4 }), fc.integer().map(String)),
          async (text) => {
            const valid = /^(0|[1-9][0-9]?)$/.test(text) && Number(text) <= 20
            expect(await status({ waitSeconds: text })).toBe(valid ? 200 : 400)
          },
        ),
        { numRuns: 60 },
      )
      expect(await status({ since: '0123456789abcdef' })).toBe(200)
      for (const bad of ['0123456789ABCDEF', '0123456789abcde', '', 'x'.repeat(16)]) {
        expect(await status({ since: bad }), bad).toBe(400)
      }
      expect(await status({ wait: '5' })).toBe(400)
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
