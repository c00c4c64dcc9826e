import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createJobQueue } from '#core/jobs/queue.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { scheduledEntry } from '#core/platform/scheduled-entry.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import {
  createSyntheticKind,
  memorySink,
  type SyntheticOptions,
  type SyntheticScope,
} from '#test/synthetic-kind.ts'
import { createWorkerHandler, remainingTime, type WorkerDeps } from './handler.ts'

const getDatabase = useTestDatabase()

function setup(
  options: {
    pageDelayMs?: number
    engine?: WorkerDeps['engine']
    fault?: SyntheticOptions['fault']
  } = {},
) {
  const services = testServices({ database: getDatabase() })
  const kind = createSyntheticKind({
    kind: `synthetic-${randomUUID()}`,
    sink: memorySink(),
    ...(options.pageDelayMs !== undefined && { pageDelayMs: options.pageDelayMs }),
    ...(options.fault && { fault: options.fault }),
  })
  const main = scheduledEntry({
    name: 'jobs/worker',
    services: () => services,
    handler: (s) =>
      createWorkerHandler({
        ...s,
        registry: createJobRegistry([kind]),
        engine: { marginMs: 1_000, ...options.engine },
      }),
  })
  const enqueue = async (scopes: SyntheticScope[]) =>
    (
      await services.jobs.enqueue({
        kind: kind.kind,
        params: { scopes },
        scopes,
        createdBy: 'test',
      })
    ).job.id
  return { main, kind, enqueue, jobs: services.jobs }
}

describe('jobs/worker', () => {
  describe('happy', () => {
    it('runs the due chunks and returns what it did', async () => {
      const { main, enqueue, jobs } = setup()
      const jobId = await enqueue([
        { key: `a-${randomUUID()}`, pages: 2, perPage: 3 },
        { key: `b-${randomUUID()}`, pages: 1, perPage: 3 },
      ])
      const result = await main({ trigger: 'worker' }, aContext())
      expect(result).toMatchObject({
        ok: true,
        function: 'jobs/worker',
        stoppedBy: 'idle',
        pages: 3,
        outcomes: { succeeded: 2, failed: 0 },
      })
      expect(await jobs.getJob(jobId)).toMatchObject({
        status: 'succeeded',
        progress: { itemsWritten: 9 },
      })
    })

    it('stops taking pages as its time budget nears the margin, and the next invocation continues', async () => {
      const { main, enqueue, jobs, kind } = setup({ pageDelayMs: 100 })
      const jobId = await enqueue([{ key: `slow-${randomUUID()}`, pages: 20, perPage: 1 }])
      const first = await main({ trigger: 'worker' }, aContext(2_500))
      expect(first).toMatchObject({ ok: true, stoppedBy: 'time', outcomes: { released: 1 } })
      // It stopped taking pages in time: none had to be cut short.
      expect(kind.aborted).toEqual([])
      const paused = await jobs.getJob(jobId)
      expect(paused).toMatchObject({ status: 'running' })
      const donePages = paused?.progress.itemsWritten ?? 0
      expect(donePages).toBeGreaterThan(0)
      expect(donePages).toBeLessThan(20)

      const second = await main({ trigger: 'worker' }, aContext(60_000))
      expect(second).toMatchObject({ ok: true, outcomes: { succeeded: 1 } })
      expect(kind.starts.map((start) => start.fromPage)).toEqual([0, donePages])
      expect(await jobs.getJob(jobId)).toMatchObject({
        status: 'succeeded',
        progress: { itemsWritten: 20 },
      })
    })
  })

  describe('waiting in place', () => {
    it('runs a chunk that backs off for a moment in the same invocation, instead of ending idle', async () => {
      const { main, enqueue, jobs, kind } = setup({
        // An upstream's short wait on the first attempt: retry in 400 ms.
        fault: ({ attempt }) => (attempt === 1 ? { kind: 'retry', retryAfterMs: 400 } : undefined),
        engine: { backoff: { baseMs: 0, capMs: 0, maxRetryAfterMs: 60_000 } },
      })
      const jobId = await enqueue([{ key: `later-${randomUUID()}`, pages: 1, perPage: 2 }])
      const result = await main({ trigger: 'worker' }, aContext())
      expect(result).toMatchObject({
        ok: true,
        stoppedBy: 'idle',
        kicked: 0,
        outcomes: { retrying: 1, succeeded: 1 },
      })
      expect(kind.starts).toHaveLength(2)
      expect(await jobs.getJob(jobId)).toMatchObject({ status: 'succeeded' })
    })
  })

  describe('errors', () => {
    it('answers a failed run as its result, not a throw, when the database is unreachable', async () => {
      const { log, lines } = captureLog()
      const pool = { query: async () => Promise.reject(new Error('connect ECONNREFUSED')) }
      const main = scheduledEntry({
        name: 'jobs/worker',
        services: () => ({ log, jobs: createJobQueue(pool) }),
        handler: (s) => createWorkerHandler({ ...s, registry: createJobRegistry([]) }),
      })
      const result = await main({ trigger: 'worker' }, aContext())
      expect(result).toMatchObject({ ok: false, function: 'jobs/worker', error: 'Error' })
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'scheduled run failed' }))
    })
  })
})

describe('remainingTime', () => {
  let now = 5_000_000
  const clock = () => now

  it("calls the context's getRemainingTimeInMillis on the context, so a method reading this works", () => {
    const context = {
      deadline: now + 30_000,
      getRemainingTimeInMillis(this: { deadline: number }) {
        return this.deadline - now
      },
    }
    const remaining = remainingTime(context, undefined, clock)
    now += 10_000
    expect(remaining()).toBe(20_000)
  })

  it('falls back to the context deadline, then the platform deadline, then a local minute', () => {
    now = 5_000_000
    expect(remainingTime({ deadline: now + 7_000 }, String(now + 9_000), clock)()).toBe(7_000)
    expect(remainingTime({}, String(now + 9_000), clock)()).toBe(9_000)
    for (const malformed of [undefined, '', 'soon', '0']) {
      expect(remainingTime({}, malformed, clock)(), String(malformed)).toBe(60_000)
    }
  })
})
