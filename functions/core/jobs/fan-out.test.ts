import { randomUUID } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { ConfigError } from '#core/config.ts'
import { testConfig } from '#test/config.ts'
import { useTestDatabase } from '#test/database.ts'
import { captureLog } from '#test/log.ts'
import { createSyntheticKind, memorySink, type SyntheticScope } from '#test/synthetic-kind.ts'
import { runWorker, type WorkerOptions, type WorkerSummary } from './engine.ts'
import { createJobQueue } from './queue.ts'
import { createJobRegistry, defineJobKind } from './registry.ts'
import { createWorkerPool, type WorkerKicker } from './workers.ts'

// Workers that ask for more workers (fan-out) up to the cap, and wait in place for a chunk due
// within seconds (docs/ARCHITECTURE.md, "The job engine").

const getDatabase = useTestDatabase({ poolMax: 12 })
const queue = () => createJobQueue(getDatabase().pool)

beforeEach(async () => {
  // The slots are the database's: each test starts with all of them free.
  await getDatabase().pool.query('DELETE FROM worker_slots')
})

async function enqueue(kind: string, scopes: SyntheticScope[]) {
  const queued = await queue().enqueue({ kind, params: { scopes }, scopes, createdBy: 'test' })
  return queued.job.id
}

function scopes(count: number): SyntheticScope[] {
  const prefix = randomUUID().slice(0, 8)
  return Array.from({ length: count }, (_, n) => ({ key: `${prefix}-${n}`, pages: 1, perPage: 1 }))
}

/** A kind whose chunks each take `chunkMs`, counting how many run at once. */
function countingKind(chunkMs: number) {
  const seen = { active: 0, most: 0, ran: 0 }
  const kind = defineJobKind<{ scopes: SyntheticScope[] }, SyntheticScope, { page: number }>({
    kind: `counting-${randomUUID()}`,
    plan: async (params) => params.scopes,
    async *run() {
      seen.active += 1
      seen.most = Math.max(seen.most, seen.active)
      try {
        await new Promise((resolve) => setTimeout(resolve, chunkMs))
        seen.ran += 1
        yield { kind: 'page', cursor: { page: 1 }, fetched: 1, written: 1 }
      } finally {
        seen.active -= 1
      }
    },
  })
  return { kind, seen }
}

function baseOptions(
  registry: WorkerOptions['registry'],
  max: number,
): Omit<WorkerOptions, 'kicker'> {
  return {
    jobs: queue(),
    registry,
    log: captureLog().log,
    remainingMs: () => 60_000,
    marginMs: 1_000,
    workers: createWorkerPool(getDatabase().pool, { max }),
  }
}

/** A kicker the platform accepts, with no worker following; it counts its kicks. */
function acceptingKicker() {
  let kicks = 0
  const kicker: WorkerKicker = {
    enabled: true,
    kick: async () => {
      kicks += 1
      return true
    },
  }
  return { kicker, kicks: () => kicks }
}

describe('fan-out', () => {
  describe('happy', () => {
    it('asks for workers that run chunks side by side, never more than the cap at once', async () => {
      const { kind, seen } = countingKind(60)
      const registry = createJobRegistry([kind])
      const jobId = await enqueue(kind.kind, scopes(12))
      // A kick starts a worker at once, as the platform would, in this process.
      const runs: Promise<WorkerSummary>[] = []
      const kicker: WorkerKicker = {
        enabled: true,
        kick: async () => {
          runs.push(runWorker({ ...baseOptions(registry, 3), kicker }))
          return true
        },
      }
      const first = await runWorker({ ...baseOptions(registry, 3), kicker })
      // Kicks started while another ran; wait for all of them, and the ones they started.
      for (let n = 0; n < runs.length; n += 1) {
        await runs[n]
      }
      const summaries = [first, ...(await Promise.all(runs))]
      expect(seen.ran).toBe(12)
      expect(seen.most).toBe(3)
      expect(first.kicked).toBeGreaterThan(0)
      expect(summaries.filter((summary) => summary.pages > 0).length).toBeGreaterThan(1)
      expect(await queue().getJob(jobId)).toMatchObject({ status: 'succeeded' })
      // Every slot was given back.
      const held = await getDatabase().pool.query(
        'SELECT count(*)::int AS n FROM worker_slots WHERE holder IS NOT NULL AND expires_at > now()',
      )
      expect(held.rows[0].n).toBe(0)
    })
  })

  describe('the cap', () => {
    it('stops asking once every slot is held or reserved', async () => {
      const { kind } = countingKind(5)
      const registry = createJobRegistry([kind])
      await enqueue(kind.kind, scopes(6))
      // Accepted, but no worker comes: the reserved slot stays taken.
      const { kicker, kicks } = acceptingKicker()
      const summary = await runWorker({ ...baseOptions(registry, 2), kicker })
      expect(summary.outcomes.succeeded).toBe(6)
      // Cap 2: this worker holds one slot, its one kick reserved the other; later chunks ask none.
      expect(kicks()).toBe(1)
      expect(summary.kicked).toBe(1)
    })

    it('runs nothing when every slot is held: the run ends as busy', async () => {
      const { kind, seen } = countingKind(5)
      const registry = createJobRegistry([kind])
      const jobId = await enqueue(kind.kind, scopes(2))
      const pool = createWorkerPool(getDatabase().pool, { max: 2 })
      const holds = [await pool.acquire(60_000), await pool.acquire(60_000)]
      expect(holds.every(Boolean)).toBe(true)
      expect(await pool.acquire(60_000)).toBeUndefined()
      const { kicker, kicks } = acceptingKicker()
      const summary = await runWorker({ ...baseOptions(registry, 2), kicker })
      expect(summary).toMatchObject({ stoppedBy: 'busy', pages: 0, kicked: 0 })
      expect(seen.ran).toBe(0)
      expect(kicks()).toBe(0)
      expect(await queue().getJob(jobId)).toMatchObject({ status: 'queued' })
      // A released slot is taken again.
      const [hold] = holds
      if (hold) {
        await pool.release(hold)
      }
      expect(await pool.acquire(60_000)).toMatchObject({ slot: hold?.slot })
    })

    it('two runs never hold one slot, however many ask at once', async () => {
      const pool = createWorkerPool(getDatabase().pool, { max: 3 })
      const holds = await Promise.all(Array.from({ length: 10 }, () => pool.acquire(60_000)))
      const slots = holds.flatMap((hold) => (hold ? [hold.slot] : []))
      expect(slots.sort()).toEqual([1, 2, 3])
    })

    it('is WORKERS_MAX: 1 to 100, 4 by default', () => {
      expect(testConfig().workers.max).toBe(4)
      expect(testConfig({ WORKERS_MAX: '1' }).workers.max).toBe(1)
      expect(testConfig({ WORKERS_MAX: ' 100 ' }).workers.max).toBe(100)
      for (const refused of ['0', '101', '-1', '2.5', 'four']) {
        expect(() => testConfig({ WORKERS_MAX: refused }), refused).toThrow(ConfigError)
      }
    })

    it('without an enabled kicker takes no slot and asks for nobody', async () => {
      const { kind, seen } = countingKind(5)
      const registry = createJobRegistry([kind])
      await enqueue(kind.kind, scopes(3))
      const off: WorkerKicker = { enabled: false, kick: async () => false }
      const summary = await runWorker({ ...baseOptions(registry, 1), kicker: off })
      expect(summary).toMatchObject({ stoppedBy: 'idle', kicked: 0 })
      expect(seen.ran).toBe(3)
      const rows = await getDatabase().pool.query('SELECT count(*)::int AS n FROM worker_slots')
      expect(rows.rows[0].n).toBe(0)
    })
  })
})

describe('waiting in place', () => {
  // A chunk asks for a retry `retryAfterMs` away on its first attempt, then succeeds.
  function retryingOnce(retryAfterMs: number) {
    return createSyntheticKind({
      kind: `retrying-${randomUUID()}`,
      sink: memorySink(),
      fault: ({ attempt }) => (attempt === 1 ? { kind: 'retry', retryAfterMs } : undefined),
    })
  }
  const backoff = { baseMs: 0, capMs: 0, maxRetryAfterMs: 60_000 }

  it('waits for a chunk due within seconds and runs it in the same worker run', async () => {
    const kind = retryingOnce(300)
    const jobId = await enqueue(kind.kind, scopes(1))
    const naps: number[] = []
    const summary = await runWorker({
      ...baseOptions(createJobRegistry([kind]), 4),
      backoff,
      waitMs: 5_000,
      sleep: (ms) => {
        naps.push(ms)
        return new Promise((resolve) => setTimeout(resolve, ms))
      },
    })
    expect(summary).toMatchObject({
      stoppedBy: 'idle',
      outcomes: { retrying: 1, succeeded: 1 },
      pages: 1,
    })
    expect(kind.starts).toHaveLength(2)
    expect(naps.length).toBeGreaterThan(0)
    expect(naps.every((ms) => ms <= 300)).toBe(true)
    expect(await queue().getJob(jobId)).toMatchObject({ status: 'succeeded' })
  })

  it('returns idle when the chunk is due later than it waits for', async () => {
    const kind = retryingOnce(3_000)
    await enqueue(kind.kind, scopes(1))
    const naps: number[] = []
    const summary = await runWorker({
      ...baseOptions(createJobRegistry([kind]), 4),
      backoff,
      waitMs: 1_000,
      sleep: async (ms) => {
        naps.push(ms)
      },
    })
    expect(summary).toMatchObject({ stoppedBy: 'idle', outcomes: { retrying: 1, succeeded: 0 } })
    expect(naps).toEqual([])
  })

  it('waits only while the budget leaves a claim after the wait (remaining time less two margins)', async () => {
    const kind = retryingOnce(1_000)
    await enqueue(kind.kind, scopes(1))
    const naps: number[] = []
    // 2,250 ms left and margins of 1,000 ms: 250 ms to spare, less than the chunk's 1,000 ms.
    const summary = await runWorker({
      ...baseOptions(createJobRegistry([kind]), 4),
      remainingMs: () => 2_250,
      backoff,
      waitMs: 5_000,
      sleep: async (ms) => {
        naps.push(ms)
      },
    })
    expect(summary).toMatchObject({ stoppedBy: 'idle', outcomes: { retrying: 1, succeeded: 0 } })
    expect(naps).toEqual([])
  })
})
