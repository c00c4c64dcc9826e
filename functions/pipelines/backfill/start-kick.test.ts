import * as v from 'valibot'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { type FakeOpenWhisk, startFakeOpenWhisk } from '#sandbox/fake-openwhisk.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { webCaller } from '#test/harness.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createSyntheticKind, memorySink } from '#test/synthetic-kind.ts'
import { createBackfillHandler } from './routes.ts'

// A start (and a resume) asks DigitalOcean's Functions API for a jobs/worker run at once, through
// the services a deployed function builds: FUNCTIONS_ACCESS_KEY and the runtime's API host.

const getDatabase = useTestDatabase()
const ADMIN_KEY = 'apm_start-kick-test-admin-key-0123456789abcdef'
const NAMESPACE = 'fn-0d6a8c1e-0000-4000-8000-00000000000b'
const asAdmin = { 'x-admin-key': ADMIN_KEY }
let fake: FakeOpenWhisk

beforeAll(async () => {
  fake = await startFakeOpenWhisk({ namespace: NAMESPACE, functions: ['jobs/worker'] })
})
afterAll(() => fake.close())
beforeEach(async () => {
  await getDatabase().pool.query('delete from jobs')
  fake.clearFaults()
  fake.requests.length = 0
  fake.invocations.length = 0
})

const Input = v.pipe(
  v.strictObject({ keys: v.optional(v.string(), 'a') }),
  v.transform((input) => ({
    scopes: input.keys.split(',').map((key) => ({ key, pages: 1, perPage: 1 })),
  })),
)

function startFunction(env: Record<string, string | undefined>) {
  const captured = captureLog()
  const services = testServices({
    database: getDatabase(),
    clock: fixedClock(),
    log: captured.log,
    env: { ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY), ...env },
    runtime: () => ({ apiHost: fake.url, namespace: NAMESPACE }),
  })
  const main = webEntry({
    services: () => services,
    handler: (s) =>
      createBackfillHandler(
        { ...s, registry: createJobRegistry([createSyntheticKind({ sink: memorySink() })]) },
        {
          kind: 'synthetic',
          label: 'synthetic backfill',
          input: Input,
          dedupeKey: () => 'synthetic',
          rateRule: { name: 'synthetic-start', limit: 100, windowSeconds: 3600 },
        },
      ),
    fallbackLog: captured.log,
  })
  const call = webCaller(main, {
    functionName: '/local/v1/backfill-synthetic',
    newAddressPerCall: true,
  })
  const start = () => call({ method: 'POST', headers: asAdmin, body: { keys: 'a,b' } })
  const queuedLine = () => captured.lines.find((line) => line.msg === 'backfill queued')
  return { call, start, queuedLine, ...captured }
}

const withKey = () => ({ FUNCTIONS_ACCESS_KEY: fake.apiKey })

describe('a backfill start asks for a worker at once', () => {
  describe('happy', () => {
    it('invokes jobs/worker without blocking, authorised by the access key, and answers 202', async () => {
      const fn = startFunction(withKey())
      const res = await fn.start()
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      expect(fake.requests).toHaveLength(1)
      const [request] = fake.requests
      expect(request?.method).toBe('POST')
      expect(request?.path).toBe(`/api/v1/namespaces/${NAMESPACE}/actions/jobs/worker`)
      expect(request?.query.get('blocking')).toBe('false')
      expect(request?.headers.authorization).toBe(
        `Basic ${Buffer.from(fake.apiKey).toString('base64')}`,
      )
      expect(fake.invocations).toHaveLength(1)
      expect(fn.queuedLine()).toMatchObject({ workerAsked: true })
    })

    it('asks again when a cancelled job is resumed', async () => {
      const fn = startFunction(withKey())
      const started = await fn.start()
      const { job } = started.body as { job: { id: string } }
      await fn.call({ method: 'DELETE', path: `/${job.id}`, headers: asAdmin })
      const resumed = await fn.call({ method: 'POST', path: `/${job.id}/resume`, headers: asAdmin })
      expect(resumed.statusCode, JSON.stringify(resumed.body)).toBe(202)
      expect(fake.invocations).toHaveLength(2)
    })
  })

  describe('errors', () => {
    it('asks nothing without FUNCTIONS_ACCESS_KEY: the job waits for the cron', async () => {
      const fn = startFunction({})
      const res = await fn.start()
      expect(res.statusCode).toBe(202)
      expect(fake.requests).toEqual([])
      expect(fn.queuedLine()).toMatchObject({ workerAsked: false })
    })

    it('still answers 202, with the job queued, when the Functions API answers 500', async () => {
      fake.fail({ kind: 'respond', method: 'POST', status: 500, body: { error: 'down' } })
      const fn = startFunction(withKey())
      const res = await fn.start()
      expect(res.statusCode).toBe(202)
      expect(res.body).toMatchObject({ job: { status: 'queued' } })
      expect(fake.requests).toHaveLength(1)
      expect(fn.queuedLine()).toMatchObject({ workerAsked: false })
      expect(fn.lines).toContainEqual(expect.objectContaining({ level: 'warn', status: 500 }))
    })

    it('still answers 202 when the Functions API never answers: the kick gives up at its bound', async () => {
      fake.fail({ kind: 'hang', method: 'POST' })
      const fn = startFunction(withKey())
      // The fake holds the request until the file ends, so only the kick's own bound ends the wait.
      const res = await fn.start()
      expect(res.statusCode).toBe(202)
      expect(fake.requests).toHaveLength(1)
      expect(fn.queuedLine()).toMatchObject({ workerAsked: false })
      expect(fn.lines).toContainEqual(expect.objectContaining({ level: 'warn', error: 'timeout' }))
    })

    it('refuses an access key that is not <id>:<secret> when the function starts', () => {
      for (const malformed of ['no-colon', ':secret', 'id:', 'id: secret']) {
        expect(() => startFunction({ FUNCTIONS_ACCESS_KEY: malformed }), malformed).toThrow(
          /FUNCTIONS_ACCESS_KEY/,
        )
      }
    })
  })
})
