import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type FakeOpenWhisk, startFakeOpenWhisk } from '#sandbox/fake-openwhisk.ts'
import { captureLog } from '#test/log.ts'
import { createWorkerKicker, runtimeOf } from './functions-api.ts'

const NAMESPACE = 'fn-5c3f0b7e-0000-4000-8000-000000000001'
let fake: FakeOpenWhisk

beforeAll(async () => {
  fake = await startFakeOpenWhisk({ namespace: NAMESPACE, functions: ['jobs/worker'] })
})
afterAll(() => fake.close())
beforeEach(() => {
  fake.clearFaults()
  fake.requests.length = 0
  fake.invocations.length = 0
})

function kicker(
  options: { accessKey?: string | undefined; apiHost?: string; timeoutMs?: number } = {},
) {
  const captured = captureLog()
  const kick = createWorkerKicker({
    accessKey: 'accessKey' in options ? options.accessKey : fake.apiKey,
    action: 'jobs/worker',
    runtime: () =>
      runtimeOf({ __OW_API_HOST: options.apiHost ?? fake.url, __OW_NAMESPACE: NAMESPACE }),
    log: captured.log,
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  })
  return { kick, ...captured }
}

describe('the worker kicker', () => {
  describe('happy', () => {
    it("asks DigitalOcean's Functions API for a non-blocking jobs/worker run with the access key", async () => {
      const { kick } = kicker()
      expect(kick.enabled).toBe(true)
      expect(await kick.kick()).toBe(true)
      expect(fake.requests).toHaveLength(1)
      const [request] = fake.requests
      expect(request?.method).toBe('POST')
      expect(request?.path).toBe(`/api/v1/namespaces/${NAMESPACE}/actions/jobs/worker`)
      expect([...(request?.query ?? [])]).toEqual([['blocking', 'false']])
      expect(request?.headers.authorization).toBe(
        `Basic ${Buffer.from(fake.apiKey).toString('base64')}`,
      )
      expect(fake.invocations).toMatchObject([{ name: 'jobs/worker', params: { trigger: 'kick' } }])
    })

    it('takes an API host with a trailing slash', async () => {
      const { kick } = kicker({ apiHost: `${fake.url}/` })
      expect(await kick.kick()).toBe(true)
      expect(fake.requests[0]?.path).toBe(`/api/v1/namespaces/${NAMESPACE}/actions/jobs/worker`)
    })
  })

  describe('errors', () => {
    it('asks nothing without an access key', async () => {
      const { kick } = kicker({ accessKey: undefined })
      expect(kick.enabled).toBe(false)
      expect(await kick.kick()).toBe(false)
      expect(fake.requests).toEqual([])
    })

    it('asks nothing, and says why, when the runtime names no API host', async () => {
      const captured = captureLog()
      const kick = createWorkerKicker({
        accessKey: fake.apiKey,
        action: 'jobs/worker',
        runtime: () => runtimeOf({}),
        log: captured.log,
      })
      expect(await kick.kick()).toBe(false)
      expect(fake.requests).toEqual([])
      expect(captured.lines).toContainEqual(
        expect.objectContaining({ level: 'warn', action: 'jobs/worker' }),
      )
    })

    it('resolves false on a refusal: a wrong key (401) or a failing API (500)', async () => {
      const wrong = kicker({ accessKey: 'someone:else' })
      expect(await wrong.kick.kick()).toBe(false)
      expect(wrong.lines).toContainEqual(expect.objectContaining({ status: 401 }))
      fake.fail({ kind: 'respond', method: 'POST', status: 500, body: { error: 'boom' } })
      const failing = kicker()
      expect(await failing.kick.kick()).toBe(false)
      expect(failing.lines).toContainEqual(expect.objectContaining({ status: 500 }))
      expect(fake.invocations).toEqual([])
    })

    it('resolves false at its bound when the API never answers, and logs it', async () => {
      fake.fail({ kind: 'hang', method: 'POST' })
      const { kick, lines } = kicker({ timeoutMs: 100 })
      // The fake holds the request until the file ends: only the kicker's own bound can end this.
      expect(await kick.kick()).toBe(false)
      expect(fake.requests).toHaveLength(1)
      expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', error: 'timeout' }))
    })

    it('resolves false when nothing listens at the API host', async () => {
      const { kick, lines } = kicker({ apiHost: 'http://127.0.0.1:1' })
      expect(await kick.kick()).toBe(false)
      expect(lines).toContainEqual(expect.objectContaining({ level: 'warn' }))
    })
  })
})
