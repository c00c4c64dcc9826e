import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { assert, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { useTestDatabase } from '#test/database.ts'
import { captureLog } from '#test/log.ts'
import {
  createSyntheticKind,
  createSyntheticTable,
  type Fault,
  memorySink,
  type SyntheticScope,
  type SyntheticSink,
  tableSink,
} from '#test/synthetic-kind.ts'
import { runWorker, type WorkerOptions } from './engine.ts'
import { LeaseLostError } from './lease-fence.ts'
import { createJobQueue } from './queue.ts'
import { createJobRegistry } from './registry.ts'
import type { JobKind } from './types.ts'

const getDatabase = useTestDatabase({ poolMax: 10 })
const queue = () => createJobQueue(getDatabase().pool)
const WORKER_SCRIPT = fileURLToPath(new URL('../../../test/worker-process.ts', import.meta.url))

beforeAll(async () => {
  await createSyntheticTable(getDatabase().pool)
})

// Tests share this file's database: each runs a kind of its own, so workers see only its chunks.
function aKind(options: {
  sink?: SyntheticSink
  pageDelayMs?: number
  fault?: (at: { key: string; page: number; attempt: number }) => Fault | undefined
}) {
  return createSyntheticKind({ kind: `synthetic-${randomUUID()}`, sink: memorySink(), ...options })
}

function scopes(count: number, pages: number, perPage: number): SyntheticScope[] {
  const prefix = randomUUID().slice(0, 8)
  return Array.from({ length: count }, (_, n) => ({ key: `${prefix}-${n}`, pages, perPage }))
}

function worker(kind: ReturnType<typeof aKind>, options: Partial<WorkerOptions> = {}) {
  return runWorker({
    jobs: queue(),
    registry: createJobRegistry([kind]),
    log: captureLog().log,
    remainingMs: () => 60_000,
    marginMs: 1_000,
    // Retries are due at once (run_after = now()), so one worker run sees every attempt.
    backoff: { baseMs: 0, capMs: 0, maxRetryAfterMs: 0 },
    ...options,
  })
}

/** The queue's operations a worker uses, some of them replaced. */
function workerQueue(overrides: Partial<WorkerOptions['jobs']>): WorkerOptions['jobs'] {
  const jobs = queue()
  return {
    reap: jobs.reap,
    claim: jobs.claim,
    checkpoint: jobs.checkpoint,
    heartbeat: jobs.heartbeat,
    complete: jobs.complete,
    fail: jobs.fail,
    retry: jobs.retry,
    release: jobs.release,
    ...overrides,
  }
}

async function enqueue(kind: { kind: string }, list: SyntheticScope[], maxAttempts?: number) {
  const queued = await queue().enqueue({
    kind: kind.kind,
    params: { scopes: list },
    scopes: list,
    createdBy: 'test',
    ...(maxAttempts !== undefined && { maxAttempts }),
  })
  return queued.job.id
}

type ChunkRow = {
  status: string
  cursor: { page: number } | null
  attempts: number
  last_error: string | null
  run_after_ms: number
  items_written: string
}

async function chunkRows(jobId: string): Promise<ChunkRow[]> {
  const result = await getDatabase().pool.query<ChunkRow>(
    `SELECT status, cursor, attempts, last_error, items_written,
       (extract(epoch FROM run_after - updated_at) * 1000)::float8 AS run_after_ms
     FROM job_chunks WHERE job_id = $1 ORDER BY seq`,
    [jobId],
  )
  return result.rows
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) {
      throw new Error('condition not met in time')
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function cursorPage(jobId: string): Promise<number> {
  return (await chunkRows(jobId))[0]?.cursor?.page ?? 0
}

/** A job over a memory sink, and a worker running it that has checkpointed page 2 of its chunk. */
async function workerPastPage2(list: SyntheticScope[], pageDelayMs: number) {
  const sink = memorySink()
  const kind = aKind({ sink, pageDelayMs })
  const jobId = await enqueue(kind, list)
  const running = worker(kind)
  await waitFor(async () => (await cursorPage(jobId)) >= 2)
  return { sink, kind, jobId, running }
}

/** One invocation's budget: a full attempt (1.3 s ≥ 3 margins), a page still running stopped at 1.1 s. */
function shortInvocation(): Partial<WorkerOptions> {
  const deadline = Date.now() + 1_300
  return { remainingMs: () => deadline - Date.now(), marginMs: 400 }
}

/** One short invocation: the pages it checkpointed and how each of its attempts ended. */
async function shortRun(kind: ReturnType<typeof aKind>) {
  const summary = await worker(kind, shortInvocation())
  const outcomes = Object.entries(summary.outcomes).flatMap(([outcome, times]) =>
    Array<string>(times).fill(outcome),
  )
  return { pages: summary.pages, outcomes }
}

async function storedItems(keys: string[]): Promise<Array<{ item: string; key: string }>> {
  const result = await getDatabase().pool.query<{ item: string; key: string }>(
    'SELECT item, key FROM synthetic_items WHERE key = ANY($1) ORDER BY item',
    [keys],
  )
  return result.rows
}

describe('job engine', () => {
  describe('happy', () => {
    it('runs 500 chunks with 8 concurrent workers: each completes exactly once and the counters add up', async () => {
      const sink = memorySink()
      const kind = aKind({ sink })
      const list = scopes(500, 3, 2)
      const jobId = await enqueue(kind, list)
      const summaries = await Promise.all(Array.from({ length: 8 }, () => worker(kind)))

      const succeeded = summaries.reduce((sum, s) => sum + s.outcomes.succeeded, 0)
      expect(succeeded).toBe(500)
      expect(summaries.every((s) => s.stoppedBy === 'idle')).toBe(true)
      expect(summaries.filter((s) => s.outcomes.succeeded > 0).length).toBeGreaterThan(1)
      // Every page written exactly once: no chunk ran twice, none was skipped.
      const pages = sink.writes.map((w) => `${w.key}/${w.page}`)
      expect(pages).toHaveLength(1500)
      expect(new Set(pages).size).toBe(1500)
      expect(kind.starts).toHaveLength(500)
      const job = await queue().getJob(jobId)
      expect(job).toMatchObject({
        status: 'succeeded',
        progress: { chunksTotal: 500, chunksDone: 500, itemsFetched: 3000, itemsWritten: 3000 },
      })
      const rows = await chunkRows(jobId)
      expect(rows.every((row) => row.status === 'succeeded' && row.attempts === 1)).toBe(true)
    })
  })

  describe('leases', () => {
    it('stops at once, writing nothing more, when another worker took over the lease', async () => {
      const { sink, jobId, running } = await workerPastPage2(scopes(1, 40, 1), 40)
      // What a second worker's claim does after an expired lease: a new token.
      await getDatabase().pool.query(
        'UPDATE job_chunks SET lease_token = gen_random_uuid() WHERE job_id = $1',
        [jobId],
      )
      const stolenAt = await cursorPage(jobId)
      const summary = await running
      expect(summary.outcomes).toMatchObject({ lost: 1, succeeded: 0 })
      // At most the page in flight was written; no checkpoint of it landed.
      expect(sink.writes.length).toBeLessThanOrEqual(stolenAt + 1)
      const [chunk] = await chunkRows(jobId)
      expect(chunk).toMatchObject({ status: 'running', cursor: { page: stolenAt } })
    })

    it('stops itself before its lease ends when heartbeats fail, while no other worker can hold it yet', async () => {
      const name = `hanging-${randomUUID()}`
      const seen: { reason?: unknown; leaseStillHeld?: boolean } = {}
      const hanging: JobKind = {
        kind: name,
        plan: async () => [],
        async *run({ signal, lease }) {
          await new Promise((resolve) => signal.addEventListener('abort', resolve))
          seen.reason = signal.reason
          const held = await getDatabase().pool.query<{ held: boolean }>(
            'SELECT lease_expires_at > now() AS held FROM job_chunks WHERE id = $1 AND lease_token = $2',
            [lease.chunkId, lease.token],
          )
          seen.leaseStillHeld = held.rows[0]?.held === true
          yield { kind: 'page', cursor: { late: true }, fetched: 1, written: 1 }
        },
      }
      const jobs = queue()
      const jobId = (
        await jobs.enqueue({ kind: name, params: {}, scopes: [{ n: 1 }], createdBy: 'test' })
      ).job.id
      const summary = await runWorker({
        jobs: {
          reap: jobs.reap,
          claim: jobs.claim,
          checkpoint: jobs.checkpoint,
          complete: jobs.complete,
          fail: jobs.fail,
          retry: jobs.retry,
          release: jobs.release,
          heartbeat: () => Promise.reject(new Error('database unreachable')),
        },
        registry: createJobRegistry([hanging]),
        log: captureLog().log,
        remainingMs: () => 60_000,
        marginMs: 1_000,
        leaseMs: 1_200,
        heartbeatMs: 300,
      })
      expect(summary.outcomes).toMatchObject({ lost: 1, succeeded: 0 })
      expect(String(seen.reason)).toContain('lost')
      expect(seen.leaseStillHeld).toBe(true)
      // The page that arrived after the stop was not checkpointed.
      const [chunk] = await chunkRows(jobId)
      expect(chunk).toMatchObject({ status: 'running', cursor: null, items_written: '0' })
    })

    it('measures its lease from when the claim was sent, so a claim answered too late runs no page', async () => {
      const kind = aKind({})
      const jobId = await enqueue(kind, scopes(1, 3, 1))
      const jobs = queue()
      const summary = await runWorker({
        jobs: workerQueue({
          // The database leases the chunk for long, but the answer takes longer than this
          // worker's lease (less its safety margin) to come back.
          claim: async (options) => {
            const claimed = await jobs.claim({ ...options, leaseMs: 60_000 })
            await new Promise((resolve) => setTimeout(resolve, 1_100))
            return claimed
          },
        }),
        registry: createJobRegistry([kind]),
        log: captureLog().log,
        remainingMs: () => 60_000,
        marginMs: 1_000,
        leaseMs: 1_200,
        heartbeatMs: 60_000,
      })
      expect(summary).toMatchObject({ pages: 0, outcomes: { lost: 1, succeeded: 0 } })
      expect(kind.starts).toEqual([])
      expect((await chunkRows(jobId))[0]).toMatchObject({ status: 'running', cursor: null })
    })

    it('hands the chunk back when a checkpoint in flight renews the lease after the worker stopped itself', async () => {
      const name = `slow-checkpoint-${randomUUID()}`
      let attemptSignal: AbortSignal | undefined
      const slow: JobKind = {
        kind: name,
        plan: async () => [],
        async *run({ signal }) {
          attemptSignal = signal
          yield { kind: 'page', cursor: { page: 1 }, fetched: 1, written: 1 }
          yield { kind: 'page', cursor: { page: 2 }, fetched: 1, written: 1 }
        },
      }
      const jobs = queue()
      const jobId = (
        await jobs.enqueue({ kind: name, params: {}, scopes: [{ n: 1 }], createdBy: 'test' })
      ).job.id
      let claims = 0
      const summary = await runWorker({
        jobs: workerQueue({
          claim: async (options) => {
            claims += 1
            return claims === 1 ? jobs.claim({ ...options, leaseMs: 60_000 }) : null
          },
          // Sent at once, it reaches the database only after the worker stopped itself; the
          // lease held all along, so it renews it.
          checkpoint: async (lease, cursor, counts) => {
            const signal = attemptSignal
            if (signal && !signal.aborted) {
              await new Promise((resolve) => signal.addEventListener('abort', resolve))
            }
            return jobs.checkpoint(lease, cursor, counts, 60_000)
          },
          heartbeat: () => Promise.reject(new Error('database unreachable')),
        }),
        registry: createJobRegistry([slow]),
        log: captureLog().log,
        remainingMs: () => 60_000,
        marginMs: 1_000,
        leaseMs: 1_200,
        heartbeatMs: 300,
      })
      expect(summary).toMatchObject({ pages: 1, outcomes: { released: 1, lost: 0 } })
      // Back in the queue at once, from its checkpoint, without spending the attempt.
      expect((await chunkRows(jobId))[0]).toMatchObject({
        status: 'queued',
        cursor: { page: 1 },
        attempts: 0,
      })
    })

    it('ends the attempt as lost, retrying nothing, when a fenced write finds the lease gone', async () => {
      const name = `fenced-${randomUUID()}`
      const fenced: JobKind = {
        kind: name,
        plan: async () => [],
        async *run() {
          yield { kind: 'page', cursor: { page: 1 }, fetched: 1, written: 1 }
          throw new LeaseLostError()
        },
      }
      const jobs = queue()
      const jobId = (
        await jobs.enqueue({ kind: name, params: {}, scopes: [{ n: 1 }], createdBy: 'test' })
      ).job.id
      let claimed = false
      const captured = captureLog()
      const summary = await runWorker({
        jobs: workerQueue({
          claim: async (options) => {
            if (claimed) {
              return null
            }
            claimed = true
            return jobs.claim(options)
          },
        }),
        registry: createJobRegistry([fenced]),
        log: captured.log,
        remainingMs: () => 60_000,
        marginMs: 1_000,
      })
      expect(summary).toMatchObject({ pages: 1, outcomes: { lost: 1, retrying: 0 } })
      expect((await chunkRows(jobId))[0]).toMatchObject({
        status: 'running',
        cursor: { page: 1 },
        attempts: 1,
        last_error: null,
      })
      expect(captured.lines.map((line) => line.msg)).toContain(
        'a fenced write found the lease gone: the worker stops the chunk',
      )
    })

    it('resumes from the last cursor after a worker process is killed mid-chunk, ending as an uninterrupted run', async () => {
      const pages = 30
      const [killedScope] = scopes(1, pages, 3)
      const [calmScope] = scopes(1, pages, 3)
      assert(killedScope && calmScope)
      const kind = aKind({ sink: tableSink(getDatabase().pool) })
      const killedJob = await enqueue(kind, [killedScope])

      const settings = {
        databaseUrl: getDatabase().url,
        kind: kind.kind,
        leaseMs: 600,
        pageDelayMs: 60,
      }
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(settings)],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
      let stderr = ''
      child.stderr.on('data', (data) => {
        stderr += String(data)
      })
      const exited = new Promise<NodeJS.Signals | null>((resolve) => {
        child.on('exit', (_code, signal) => resolve(signal))
      })
      const progressed = async () => {
        if (child.exitCode !== null) {
          throw new Error('the worker process exited early')
        }
        return (await cursorPage(killedJob)) >= 3
      }
      await waitFor(progressed, 20_000).catch((err) => {
        child.kill('SIGKILL')
        throw new Error(`the worker process made no progress: ${stderr}`, { cause: err })
      })
      child.kill('SIGKILL')
      expect(await exited).toBe('SIGKILL')
      const killedAt = await cursorPage(killedJob)
      expect(killedAt).toBeLessThan(pages)
      expect((await chunkRows(killedJob))[0]?.status).toBe('running')

      // The next invocation finds the chunk once its lease has expired (heartbeats stopped).
      await waitFor(async () => {
        const result = await getDatabase().pool.query(
          `SELECT 1 FROM job_chunks WHERE job_id = $1 AND lease_expires_at <= now()`,
          [killedJob],
        )
        return (result.rowCount ?? 0) > 0
      })
      const resumed = await worker(kind)
      expect(resumed.outcomes.succeeded).toBe(1)
      expect(kind.starts).toEqual([{ key: killedScope.key, fromPage: killedAt }])

      const calmJob = await enqueue(kind, [calmScope])
      await worker(kind)

      const killed = await queue().getJob(killedJob)
      const calm = await queue().getJob(calmJob)
      expect(killed?.status).toBe('succeeded')
      expect(killed?.progress).toEqual({ ...calm?.progress, ratePerSecond: expect.any(Number) })
      const strip = (rows: Array<{ item: string }>, key: string) =>
        rows.map((row) => row.item.replace(key, 'KEY'))
      expect(strip(await storedItems([killedScope.key]), killedScope.key)).toEqual(
        strip(await storedItems([calmScope.key]), calmScope.key),
      )
      expect(await storedItems([killedScope.key])).toHaveLength(pages * 3)
      // Idempotent sinks: the crash repeated at most the one page that was in flight.
      const repeated = await getDatabase().pool.query(
        'SELECT count(*)::int AS n FROM synthetic_items WHERE key = $1 AND writes > 1',
        [killedScope.key],
      )
      expect(repeated.rows[0]?.n).toBeLessThanOrEqual(3)
      const [killedChunk] = await chunkRows(killedJob)
      const [calmChunk] = await chunkRows(calmJob)
      expect(killedChunk).toMatchObject({ status: 'succeeded', cursor: calmChunk?.cursor })
      expect(killedChunk?.items_written).toBe(calmChunk?.items_written)
    })
  })

  describe('errors', () => {
    it('retries after the backoff, and no sooner than an upstream Retry-After', async () => {
      const kind = aKind({
        fault: ({ page, attempt }) =>
          page === 1 && attempt === 1
            ? { kind: 'retry', reason: 'jira-unavailable' }
            : page === 1 && attempt === 2
              ? { kind: 'retry', reason: 'jira-rate-limited', retryAfterMs: 7_000 }
              : undefined,
      })
      const jobId = await enqueue(kind, scopes(1, 3, 1))
      const backoff = { baseMs: 1_000, capMs: 60_000, maxRetryAfterMs: 3_600_000 }
      const options = { backoff, random: () => 1 }

      const first = await worker(kind, options)
      expect(first.outcomes.retrying).toBe(1)
      let [chunk] = await chunkRows(jobId)
      expect(chunk).toMatchObject({ status: 'queued', cursor: { page: 1 }, attempts: 1 })
      expect(chunk?.last_error).toBe('Upstream asked to retry (jira-unavailable).')
      expect(chunk?.run_after_ms).toBeCloseTo(1_000, 0)

      await getDatabase().pool.query('UPDATE job_chunks SET run_after = now() WHERE job_id = $1', [
        jobId,
      ])
      await worker(kind, options)
      ;[chunk] = await chunkRows(jobId)
      // Attempt 2 would wait 2 s by the backoff; Retry-After asks for 7 s.
      expect(chunk?.run_after_ms).toBeCloseTo(7_000, 0)

      await getDatabase().pool.query('UPDATE job_chunks SET run_after = now() WHERE job_id = $1', [
        jobId,
      ])
      const last = await worker(kind, options)
      expect(last.outcomes.succeeded).toBe(1)
      expect(kind.starts.map((s) => s.fromPage)).toEqual([0, 1, 1])
    })

    it('fails the chunk at once on a permanent error, with its message', async () => {
      const kind = aKind({
        fault: ({ page }) =>
          page === 2
            ? { kind: 'throw', error: new AppError('FORBIDDEN', 'Jira refused the credentials.') }
            : undefined,
      })
      const jobId = await enqueue(kind, scopes(1, 5, 1))
      const summary = await worker(kind)
      expect(summary.outcomes).toMatchObject({ failed: 1, retrying: 0 })
      expect((await chunkRows(jobId))[0]).toMatchObject({
        status: 'failed',
        attempts: 1,
        cursor: { page: 2 },
      })
      expect(await queue().getJob(jobId)).toMatchObject({
        status: 'failed',
        progress: { chunksFailed: 1, itemsWritten: 2, lastError: 'Jira refused the credentials.' },
      })
    })

    it('gives up after max_attempts keeping the cursor, and resume continues from it', async () => {
      let broken = true
      const kind = aKind({
        fault: ({ page }) =>
          broken && page === 3
            ? { kind: 'throw', error: new TypeError('fetch failed') }
            : undefined,
      })
      const [scope] = scopes(1, 6, 2)
      assert(scope)
      const jobId = await enqueue(kind, [scope], 3)
      const first = await worker(kind)
      expect(first.outcomes).toMatchObject({ retrying: 2, failed: 1 })
      expect((await chunkRows(jobId))[0]).toMatchObject({
        status: 'failed',
        attempts: 3,
        cursor: { page: 3 },
      })
      expect((await queue().getJob(jobId))?.progress.lastError).toBe(
        'Gave up after 3 attempts: Unexpected TypeError; see the worker log.',
      )

      broken = false
      expect(await queue().resume(jobId)).toMatchObject({ kind: 'resumed' })
      const second = await worker(kind)
      expect(second.outcomes.succeeded).toBe(1)
      expect(kind.starts.map((s) => s.fromPage)).toEqual([0, 3, 3, 3])
      expect(await queue().getJob(jobId)).toMatchObject({
        status: 'succeeded',
        progress: { itemsWritten: 12, chunksFailed: 0 },
      })
    })
  })

  describe('cancel', () => {
    it('stops a running chunk at its next step and cancels the queued ones', async () => {
      const { sink, kind, jobId, running } = await workerPastPage2(scopes(3, 50, 1), 30)
      const cancel = await queue().cancel(jobId)
      expect(cancel.kind).toBe('requested')
      const summary = await running
      expect(summary.outcomes).toMatchObject({ cancelled: 1, succeeded: 0 })
      expect(sink.writes.length).toBeLessThan(50)
      expect(kind.starts).toHaveLength(1)
      const job = await queue().getJob(jobId)
      expect(job).toMatchObject({ status: 'cancelled', cancelRequested: true })
      expect((await chunkRows(jobId)).map((c) => c.status)).toEqual([
        'cancelled',
        'cancelled',
        'cancelled',
      ])
    })
  })

  describe('time budget', () => {
    it('abandons a page still running at half the margin and releases the chunk from its cursor', async () => {
      const kind = aKind({
        fault: ({ page }) => (page === 2 ? { kind: 'delay', ms: 10_000 } : undefined),
      })
      const jobId = await enqueue(kind, scopes(1, 5, 1))
      const deadline = Date.now() + 1_600
      const summary = await worker(kind, {
        remainingMs: () => deadline - Date.now(),
        marginMs: 500,
      })
      // Stopped at half the margin before the deadline: the 10 s page was aborted, not awaited.
      expect(summary).toMatchObject({ stoppedBy: 'time', pages: 2, outcomes: { released: 1 } })
      expect(kind.aborted).toEqual([{ key: expect.any(String), page: 2 }])
      expect((await chunkRows(jobId))[0]).toMatchObject({
        status: 'queued',
        attempts: 0,
        cursor: { page: 2 },
      })
    })

    it('fails a chunk whose page never finishes within the budget after max_attempts, keeping its cursor', async () => {
      const kind = aKind({
        fault: ({ page }) => (page >= 2 ? { kind: 'delay', ms: 10_000 } : undefined),
      })
      const jobId = await enqueue(kind, scopes(1, 5, 1), 3)
      const seen: Array<{ pages: number; outcomes: string[] }> = []
      const attempts: number[] = []
      for (let n = 0; n < 4; n++) {
        seen.push(await shortRun(kind))
        attempts.push((await chunkRows(jobId))[0]?.attempts ?? -1)
      }
      // The first attempt wrote two pages and is given back; the next three wrote none and count.
      expect(seen).toEqual([
        { pages: 2, outcomes: ['released'] },
        { pages: 0, outcomes: ['released'] },
        { pages: 0, outcomes: ['released'] },
        { pages: 0, outcomes: ['failed'] },
      ])
      expect(attempts).toEqual([0, 1, 2, 3])
      expect((await chunkRows(jobId))[0]).toMatchObject({
        status: 'failed',
        attempts: 3,
        cursor: { page: 2 },
      })
      expect(await queue().getJob(jobId)).toMatchObject({
        status: 'failed',
        progress: {
          chunksFailed: 1,
          itemsWritten: 2,
          lastError: "Gave up after 3 attempts: No page finished within the worker's time budget.",
        },
      })
      expect(await worker(kind)).toMatchObject({ stoppedBy: 'idle', pages: 0 })
      expect(kind.starts.map((s) => s.fromPage)).toEqual([0, 2, 2, 2])
    })

    it('keeps releasing a chunk that finishes a page in every invocation, without using up attempts', async () => {
      // Run n writes page n - 1, then stalls on page n until the budget stops it.
      const kind = aKind({
        fault: ({ page, attempt }) =>
          page === attempt ? { kind: 'delay', ms: 10_000 } : undefined,
      })
      const jobId = await enqueue(kind, scopes(1, 4, 1), 1)
      const seen: Array<{ pages: number; outcomes: string[] }> = []
      for (let n = 0; n < 4; n++) {
        seen.push(await shortRun(kind))
      }
      expect(seen).toEqual([
        { pages: 1, outcomes: ['released'] },
        { pages: 1, outcomes: ['released'] },
        { pages: 1, outcomes: ['released'] },
        { pages: 1, outcomes: ['succeeded'] },
      ])
      expect((await chunkRows(jobId))[0]).toMatchObject({
        status: 'succeeded',
        attempts: 1,
        cursor: { page: 4 },
        last_error: null,
      })
      expect(kind.starts.map((s) => s.fromPage)).toEqual([0, 1, 2, 3])
    })
  })
})

describe('late claims', () => {
  it('claims nothing with less than two margins left', async () => {
    const kind = aKind({})
    const jobId = await enqueue(kind, scopes(1, 2, 1))
    const deadline = Date.now() + 700
    const summary = await worker(kind, { remainingMs: () => deadline - Date.now(), marginMs: 400 })
    expect(summary).toMatchObject({ stoppedBy: 'time', pages: 0 })
    expect((await chunkRows(jobId))[0]).toMatchObject({ status: 'queued', attempts: 0 })
  })

  it('gives the attempt back when a chunk claimed late finishes no page', async () => {
    const kind = aKind({ fault: () => ({ kind: 'delay', ms: 10_000 }) })
    const jobId = await enqueue(kind, scopes(1, 2, 1), 1)
    // 1.0 s left: enough to claim (> 2 margins), not a full attempt (< 3 margins).
    const deadline = Date.now() + 1_000
    const summary = await worker(kind, { remainingMs: () => deadline - Date.now(), marginMs: 400 })
    expect(summary).toMatchObject({ pages: 0, outcomes: { released: 1, failed: 0 } })
    expect((await chunkRows(jobId))[0]).toMatchObject({ status: 'queued', attempts: 0 })
  })
})
