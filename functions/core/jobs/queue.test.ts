import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { assert, describe, expect, it } from 'vitest'
import { useTestDatabase } from '#test/database.ts'
import { createJobQueue, type EnqueueRequest } from './queue.ts'
import { STATS } from './queue-sql.ts'
import type { Json } from './types.ts'

const getDatabase = useTestDatabase({ poolMax: 10 })
const queue = () => createJobQueue(getDatabase().pool)

// Tests share this file's database: each uses a kind of its own, so claims see only its chunks.
function aJob(overrides: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return {
    kind: `test-${randomUUID()}`,
    params: { days: 30 },
    scopes: [{ project: 'OPS' }, { project: 'WEB' }],
    createdBy: 'test',
    ...overrides,
  }
}

type ChunkRow = {
  seq: number
  status: string
  cursor: Json | null
  attempts: number
  last_error: string | null
  lease_token: string | null
  items_written: string
}

async function chunks(jobId: string): Promise<ChunkRow[]> {
  const result = await getDatabase().pool.query<ChunkRow>(
    `SELECT seq, status, cursor, attempts, last_error, lease_token, items_written
     FROM job_chunks WHERE job_id = $1 ORDER BY seq`,
    [jobId],
  )
  return result.rows
}

async function expireLeases(jobId: string): Promise<void> {
  await getDatabase().pool.query(
    `UPDATE job_chunks SET lease_expires_at = now() - interval '1 second'
     WHERE job_id = $1 AND status = 'running'`,
    [jobId],
  )
}

type PlanNode = {
  'Relation Name'?: string
  'Actual Rows': number
  'Actual Loops': number
  'Rows Removed by Filter'?: number
  Plans?: PlanNode[]
}

async function jobStatus(jobId: string): Promise<string | undefined> {
  return (await queue().getJob(jobId))?.status
}

describe('job queue', () => {
  describe('happy', () => {
    it('enqueues a job with one chunk per scope, queued with empty progress', async () => {
      const request = aJob()
      const queued = await queue().enqueue(request)
      assert(queued.created)
      expect(queued.job).toMatchObject({
        kind: request.kind,
        status: 'queued',
        params: { days: 30 },
        startedAt: null,
        finishedAt: null,
        cancelRequested: false,
        progress: {
          chunksTotal: 2,
          chunksDone: 0,
          chunksFailed: 0,
          itemsWritten: 0,
          ratePerSecond: null,
          etaSeconds: null,
          lastError: null,
        },
      })
      expect((await chunks(queued.job.id)).map((c) => [c.seq, c.status])).toEqual([
        [0, 'queued'],
        [1, 'queued'],
      ])
    })

    it('claims chunks in order with fresh leases, and derives status and progress from them', async () => {
      const request = aJob()
      const { job } = await queue().enqueue(request)
      const first = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      const second = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(first && second)
      expect([first.seq, second.seq]).toEqual([0, 1])
      expect(first.scope).toEqual({ project: 'OPS' })
      expect(first).toMatchObject({
        kind: request.kind,
        params: { days: 30 },
        attempt: 1,
        cursor: null,
      })
      expect(first.lease.token).not.toEqual(second.lease.token)
      expect(await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })).toBeNull()
      expect(await jobStatus(job.id)).toBe('running')

      await queue().checkpoint(
        first.lease,
        { page: 1 },
        { fetched: 10, written: 9, failed: 1 },
        60_000,
      )
      await queue().checkpoint(first.lease, { page: 2 }, { fetched: 5, written: 5 }, 60_000)
      expect(await queue().complete(first.lease)).toEqual({ kind: 'done' })
      const midway = await queue().getJob(job.id)
      expect(midway?.status).toBe('running')
      expect(midway?.progress).toMatchObject({
        chunksTotal: 2,
        chunksDone: 1,
        itemsFetched: 15,
        itemsWritten: 14,
        itemsFailed: 1,
      })
      expect(midway?.startedAt).not.toBeNull()

      await queue().complete(second.lease)
      const done = await queue().getJob(job.id)
      expect(done?.status).toBe('succeeded')
      expect(done?.finishedAt).not.toBeNull()
      expect(done?.progress.etaSeconds).toBeNull()
      expect((await chunks(job.id)).map((c) => c.cursor)).toEqual([{ page: 2 }, null])
    })

    it('lists the newest jobs first, of one kind when asked', async () => {
      const kind = `list-${randomUUID()}`
      const a = await queue().enqueue(aJob({ kind }))
      const b = await queue().enqueue(aJob({ kind }))
      await queue().enqueue(aJob())
      const listed = await queue().listJobs({ kind, limit: 10 })
      expect(listed.map((job) => job.id)).toEqual([b.job.id, a.job.id])
      expect(await queue().listJobs({ kind, limit: 1 })).toHaveLength(1)
    })

    it('finishes a job with no chunks at once', async () => {
      const queued = await queue().enqueue(aJob({ scopes: [] }))
      expect(queued.job.status).toBe('succeeded')
      expect(queued.job.finishedAt).not.toBeNull()
    })
  })

  describe('dedupe', () => {
    it('creates one job from 20 concurrent duplicate enqueues and returns it to all', async () => {
      const dedupeKey = `dedupe-${randomUUID()}`
      const request = aJob({ dedupeKey })
      const results = await Promise.all(
        Array.from({ length: 20 }, () => queue().enqueue({ ...request })),
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r.job.id)).size).toBe(1)
      const stored = await getDatabase().pool.query(
        'SELECT count(*)::int AS n FROM jobs WHERE dedupe_key = $1',
        [dedupeKey],
      )
      expect(stored.rows[0]?.n).toBe(1)
      expect(await chunks(results[0]!.job.id)).toHaveLength(2)
    })

    it('admits a new job with the key once the holder has finished', async () => {
      const dedupeKey = `dedupe-${randomUUID()}`
      const request = aJob({ dedupeKey, scopes: [{ n: 1 }] })
      const first = await queue().enqueue(request)
      const claimed = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(claimed)
      expect((await queue().enqueue(request)).created).toBe(false)
      await queue().complete(claimed.lease)
      const second = await queue().enqueue(request)
      assert(second.created)
      expect(second.job.id).not.toBe(first.job.id)
    })

    it('admits one job per run key, even after it finished', async () => {
      const runKey = `daily:x:${randomUUID()}`
      const first = await queue().enqueue(aJob({ runKey, scopes: [] }))
      expect(first.job.status).toBe('succeeded')
      const again = await queue().enqueue(aJob({ runKey }))
      expect(again).toMatchObject({ created: false, job: { id: first.job.id } })
    })
  })

  describe('leases and fencing', () => {
    it('lets no write through from a worker whose lease expired and was claimed again', async () => {
      const request = aJob({ scopes: [{ n: 1 }] })
      const { job } = await queue().enqueue(request)
      const stale = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(stale)
      await queue().checkpoint(stale.lease, { page: 1 }, { fetched: 1, written: 1 }, 60_000)
      await expireLeases(job.id)
      const fresh = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(fresh)
      expect(fresh).toMatchObject({ attempt: 2, cursor: { page: 1 } })

      const lost = { kind: 'lost' }
      expect(
        await queue().checkpoint(stale.lease, { page: 9 }, { fetched: 50, written: 50 }, 1),
      ).toEqual(lost)
      expect(await queue().heartbeat(stale.lease, 60_000)).toEqual(lost)
      expect(await queue().complete(stale.lease)).toEqual(lost)
      expect(await queue().fail(stale.lease, 'stale')).toEqual(lost)
      expect(await queue().retry(stale.lease, { delayMs: 0, error: 'stale' })).toEqual(lost)
      expect(await queue().release(stale.lease, { progressed: true })).toEqual(lost)

      const [chunk] = await chunks(job.id)
      expect(chunk).toMatchObject({ status: 'running', cursor: { page: 1 }, items_written: '1' })
      expect(chunk?.lease_token).toBe(fresh.lease.token)
      expect(
        await queue().checkpoint(fresh.lease, { page: 2 }, { fetched: 1, written: 1 }, 60_000),
      ).toEqual({ kind: 'ok' })
    })

    it('lets no write through from a worker whose lease expired, even before another claimed the chunk', async () => {
      const request = aJob({ scopes: [{ n: 1 }] })
      const { job } = await queue().enqueue(request)
      const claimed = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(claimed)
      await queue().checkpoint(claimed.lease, { page: 1 }, { fetched: 1, written: 1 }, 60_000)
      await expireLeases(job.id)
      // The sinks refused this worker's writes by now (`leaseHeld`): its page must not count.
      const lost = { kind: 'lost' }
      expect(
        await queue().checkpoint(claimed.lease, { page: 2 }, { fetched: 5, written: 5 }, 60_000),
      ).toEqual(lost)
      expect(await queue().heartbeat(claimed.lease, 60_000)).toEqual(lost)
      expect(await queue().complete(claimed.lease)).toEqual(lost)
      expect(await queue().fail(claimed.lease, 'late')).toEqual(lost)
      expect(await queue().retry(claimed.lease, { delayMs: 0, error: 'late' })).toEqual(lost)
      expect(await queue().release(claimed.lease, { progressed: true })).toEqual(lost)
      expect((await chunks(job.id))[0]).toMatchObject({
        status: 'running',
        cursor: { page: 1 },
        items_written: '1',
        attempts: 1,
      })
      // The next claim takes it over from the last checkpoint.
      const next = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      expect(next).toMatchObject({ attempt: 2, cursor: { page: 1 } })
    })

    it('claims a chunk whose lease expired before a due sync chunk, as documented', async () => {
      const backfill = aJob({ scopes: [{ window: 1 }] })
      const sync = aJob({ kind: `${backfill.kind}-sync`, scopes: [{ daily: 1 }], priority: 0 })
      const old = await queue().enqueue(backfill)
      assert(await queue().claim({ kinds: [backfill.kind], leaseMs: 60_000 }))
      await expireLeases(old.job.id)
      await queue().enqueue(sync)
      const kinds = [backfill.kind, sync.kind]
      const first = await queue().claim({ kinds, leaseMs: 60_000 })
      const second = await queue().claim({ kinds, leaseMs: 60_000 })
      expect([first?.kind, first?.attempt, second?.kind]).toEqual([backfill.kind, 2, sync.kind])
    })

    it('claims a priority-0 chunk before older due chunks of priority 1, then those in age order', async () => {
      const backfill = aJob({ scopes: [{ window: 1 }, { window: 2 }, { window: 3 }] })
      const sync = aJob({ kind: `${backfill.kind}-sync`, scopes: [{ daily: 1 }], priority: 0 })
      const old = await queue().enqueue(backfill)
      // The backfill's chunks have waited an hour; the sync was queued just now.
      await getDatabase().pool.query(
        `UPDATE job_chunks SET run_after = now() - interval '1 hour' WHERE job_id = $1`,
        [old.job.id],
      )
      const daily = await queue().enqueue(sync)
      const kinds = [backfill.kind, sync.kind]
      const order: string[] = []
      for (let n = 0; n < 4; n += 1) {
        const claimed = await queue().claim({ kinds, leaseMs: 60_000 })
        assert(claimed)
        order.push(`${claimed.lease.jobId === daily.job.id ? 'sync' : 'backfill'}:${claimed.seq}`)
      }
      expect(order).toEqual(['sync:0', 'backfill:0', 'backfill:1', 'backfill:2'])
    })

    it('keeps a step’s warning on its chunk and shows every chunk’s warning in the job’s progress', async () => {
      const request = aJob({ scopes: [{ n: 1 }, { n: 2 }] })
      const { job } = await queue().enqueue(request)
      const first = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      const second = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(first && second)
      const warn = { fetched: 0, written: 0, warning: 'Held back 40 deletions.' }
      await queue().checkpoint(second.lease, { at: 1 }, warn, 60_000)
      await queue().checkpoint(second.lease, { at: 2 }, { fetched: 1, written: 1 }, 60_000)
      await queue().checkpoint(first.lease, { at: 1 }, { ...warn, warning: 'Held back 3.' }, 60_000)
      await queue().complete(first.lease)
      await queue().complete(second.lease)
      const done = await queue().getJob(job.id)
      expect(done?.status).toBe('succeeded')
      expect(done?.progress.warnings).toEqual(['Held back 3.', 'Held back 40 deletions.'])
      // The same sentence from several chunks is shown once, where it first appears.
      const many = aJob({ scopes: [{ n: 1 }, { n: 2 }, { n: 3 }] })
      const manyJob = await queue().enqueue(many)
      for (const warning of [
        'Project NOPE is unknown.',
        'Held back 5.',
        'Project NOPE is unknown.',
      ]) {
        const claimed = await queue().claim({ kinds: [many.kind], leaseMs: 60_000 })
        assert(claimed)
        await queue().checkpoint(claimed.lease, {}, { fetched: 0, written: 0, warning }, 60_000)
      }
      expect((await queue().getJob(manyJob.job.id))?.progress.warnings).toEqual([
        'Project NOPE is unknown.',
        'Held back 5.',
      ])
      expect((await queue().enqueue(aJob())).job.progress.warnings).toEqual([])
    })

    it('relaxes synchronous_commit for the claim’s own transaction only', async () => {
      const client = new pg.Client({ connectionString: getDatabase().url })
      await client.connect()
      try {
        const request = aJob({ scopes: [{ n: 1 }] })
        const jobs = createJobQueue(client)
        await jobs.enqueue(request)
        assert(await jobs.claim({ kinds: [request.kind], leaseMs: 60_000 }))
        const setting = await client.query<{ synchronous_commit: string }>(
          'SHOW synchronous_commit',
        )
        expect(setting.rows[0]?.synchronous_commit).toBe('on')
      } finally {
        await client.end()
      }
    })

    it('does not hand out a chunk before its run_after, nor kinds the worker does not run', async () => {
      const request = aJob({ scopes: [{ n: 1 }] })
      await queue().enqueue(request)
      expect(await queue().claim({ kinds: ['some-other-kind'], leaseMs: 60_000 })).toBeNull()
      const claimed = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(claimed)
      const retried = await queue().retry(claimed.lease, { delayMs: 60_000, error: 'busy' })
      assert(retried.kind === 'scheduled')
      expect(await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })).toBeNull()
    })

    it('gives the attempt back on a release after a page, and keeps the cursor', async () => {
      const request = aJob({ scopes: [{ n: 1 }] })
      const { job } = await queue().enqueue(request)
      const claimed = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(claimed)
      await queue().checkpoint(claimed.lease, { page: 3 }, { fetched: 1, written: 1 }, 60_000)
      expect(await queue().release(claimed.lease, { progressed: true })).toEqual({
        kind: 'released',
      })
      expect((await chunks(job.id))[0]).toMatchObject({
        status: 'queued',
        attempts: 0,
        cursor: { page: 3 },
      })
      const again = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      expect(again).toMatchObject({ attempt: 1, cursor: { page: 3 } })
    })
  })

  describe('concurrent completion', () => {
    it('settles every job once its last chunks finish at the same time, as its chunks ended', async () => {
      const kind = `race-${randomUUID()}`
      // 48 jobs of 2 or 3 chunks; one chunk of every third job fails.
      const planned = Array.from({ length: 48 }, (_, n) =>
        Array.from({ length: 2 + (n % 2) }, (_, seq) => ({ fail: n % 3 === 0 && seq === n % 2 })),
      )
      const queued = await Promise.all(
        planned.map((scopes) => queue().enqueue(aJob({ kind, scopes }))),
      )
      // Rounds of 8 claims, then 8 completions at once: claims go in job order, so each round
      // finishes the last chunks of a few jobs side by side, from different connections.
      for (let round = 0; ; round++) {
        assert(round < 100, 'the chunks never ran out')
        const claimed = await Promise.all(
          Array.from({ length: 8 }, () => queue().claim({ kinds: [kind], leaseMs: 60_000 })),
        )
        const leases = claimed.filter((chunk) => chunk !== null)
        if (leases.length === 0) {
          break
        }
        const finished = await Promise.all(
          leases.map((chunk) =>
            (chunk.scope as { fail: boolean }).fail
              ? queue().fail(chunk.lease, 'Jira refused the credentials.')
              : queue().complete(chunk.lease),
          ),
        )
        expect(finished).toEqual(leases.map(() => ({ kind: 'done' })))
      }
      const outcomes = await Promise.all(queued.map(({ job }) => queue().getJob(job.id)))
      expect(
        outcomes.map((job) => [job?.status, job?.finishedAt !== null, job?.progress.chunksFailed]),
      ).toEqual(
        planned.map((scopes) => {
          const failed = scopes.filter((scope) => scope.fail).length
          return [failed > 0 ? 'failed' : 'succeeded', true, failed]
        }),
      )
    })
  })

  describe('failure, resume and reaping', () => {
    it('fails a chunk after max_attempts keeping its cursor, and resume requeues it with fresh attempts', async () => {
      const request = aJob({ scopes: [{ n: 1 }, { n: 2 }], maxAttempts: 2 })
      const { job } = await queue().enqueue(request)
      const claim = () => queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      const other = await claim()
      assert(other)
      await queue().complete(other.lease)
      const first = await claim()
      assert(first)
      await queue().checkpoint(first.lease, { page: 4 }, { fetched: 4, written: 4 }, 60_000)
      expect(
        await queue().retry(first.lease, { delayMs: 0, error: 'Jira answered 503.' }),
      ).toMatchObject({ kind: 'scheduled' })
      const second = await claim()
      assert(second)
      expect(second).toMatchObject({ attempt: 2, cursor: { page: 4 } })
      expect(
        await queue().retry(second.lease, { delayMs: 0, error: 'Jira answered 503.' }),
      ).toEqual({ kind: 'exhausted' })

      const failed = await queue().getJob(job.id)
      expect(failed).toMatchObject({
        status: 'failed',
        progress: {
          chunksDone: 1,
          chunksFailed: 1,
          lastError: 'Gave up after 2 attempts: Jira answered 503.',
        },
      })
      expect((await chunks(job.id))[1]).toMatchObject({ status: 'failed', cursor: { page: 4 } })

      const resumed = await queue().resume(job.id)
      expect(resumed).toMatchObject({
        kind: 'resumed',
        job: { status: 'queued', finishedAt: null },
      })
      const third = await claim()
      expect(third).toMatchObject({ seq: 1, attempt: 1, cursor: { page: 4 } })
      assert(third)
      await queue().complete(third.lease)
      expect(await queue().getJob(job.id)).toMatchObject({
        status: 'succeeded',
        progress: { chunksDone: 2, lastError: null },
      })
    })

    it('refuses to resume an active or succeeded job, and one whose key another job now holds', async () => {
      const dedupeKey = `dedupe-${randomUUID()}`
      const request = aJob({ dedupeKey, scopes: [{ n: 1 }] })
      const { job } = await queue().enqueue(request)
      expect(await queue().resume(job.id)).toMatchObject({ kind: 'not-resumable' })
      const claimed = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(claimed)
      await queue().fail(claimed.lease, 'Jira refused the credentials.')
      const rival = await queue().enqueue(request)
      assert(rival.created)
      expect(await queue().resume(job.id)).toMatchObject({
        kind: 'conflict',
        job: { id: rival.job.id },
      })
      expect(await jobStatus(job.id)).toBe('failed')
      expect(await queue().resume(randomUUID())).toEqual({ kind: 'not-found' })
    })

    it('reaps expired leases: requeues those with attempts left, fails exhausted ones with their cursor', async () => {
      const request = aJob({ scopes: [{ n: 1 }, { n: 2 }], maxAttempts: 1 })
      const { job } = await queue().enqueue(request)
      await getDatabase().pool.query(
        'UPDATE job_chunks SET max_attempts = 2 WHERE job_id = $1 AND seq = 0',
        [job.id],
      )
      const a = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      const b = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(a && b)
      await queue().checkpoint(b.lease, { page: 7 }, { fetched: 7, written: 7 }, 60_000)
      await expireLeases(job.id)
      const reaped = await queue().reap()
      expect(reaped.requeued).toBeGreaterThanOrEqual(1)
      expect(reaped.failed).toBeGreaterThanOrEqual(1)
      const rows = await chunks(job.id)
      expect(rows.map((c) => [c.status, c.lease_token])).toEqual([
        ['queued', null],
        ['failed', null],
      ])
      expect(rows[1]).toMatchObject({
        cursor: { page: 7 },
        last_error: 'The worker stopped responding in each of its 1 attempts.',
      })
      expect(await queue().complete(b.lease)).toEqual({ kind: 'lost' })
    })
  })

  describe('stats', () => {
    it('finds the oldest due chunk by reading a few index entries, whatever the backlog', async () => {
      const { pool } = getDatabase()
      const backlog = aJob({ scopes: Array.from({ length: 3000 }, (_, n) => ({ n })) })
      const { job } = await queue().enqueue(backlog)
      await queue().enqueue(aJob({ scopes: [{ daily: 1 }], priority: 0 }))
      await pool.query('ANALYZE job_chunks')
      const explained = await pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${STATS}`,
      )
      const plan = explained.rows[0]?.['QUERY PLAN'][0]?.Plan
      assert(plan)
      // Rows each scan of job_chunks produced or filtered out, over all its loops.
      const read = (node: PlanNode): number =>
        (node['Relation Name'] === 'job_chunks'
          ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops']
          : 0) + (node.Plans ?? []).reduce((sum, child) => sum + read(child), 0)
      expect(read(plan)).toBeLessThan(20)
      // Later claims in this file would step over the backlog, a probe per chunk.
      await pool.query('DELETE FROM jobs WHERE id = $1', [job.id])
    })

    it('reports the oldest due chunk’s wait, expired leases and recent failures', async () => {
      const request = aJob({ scopes: [{ n: 1 }, { n: 2 }, { n: 3 }] })
      const { job } = await queue().enqueue(request)
      const before = await queue().stats()
      await getDatabase().pool.query(
        "UPDATE job_chunks SET run_after = now() - interval '1 hour' WHERE job_id = $1",
        [job.id],
      )
      const running = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      const failing = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(running && failing)
      await queue().fail(failing.lease, 'Jira refused the credentials.')
      await expireLeases(job.id)
      const after = await queue().stats()
      expect(after.oldestDueSeconds).toBeGreaterThanOrEqual(3_600)
      expect(after.expiredLeases).toBe(before.expiredLeases + 1)
      await queue().release(running.lease, { progressed: false })
      const third = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      const fourth = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(third && fourth)
      await queue().complete(third.lease)
      await queue().complete(fourth.lease)
      expect((await queue().stats()).failedJobs24h).toBe(before.failedJobs24h + 1)
    })
  })

  describe('cancel', () => {
    it('cancels queued chunks at once and a running one at its next checkpoint', async () => {
      const request = aJob({ scopes: [{ n: 1 }, { n: 2 }, { n: 3 }] })
      const { job } = await queue().enqueue(request)
      const running = await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })
      assert(running)
      const cancelled = await queue().cancel(job.id)
      expect(cancelled).toMatchObject({
        kind: 'requested',
        job: { status: 'running', cancelRequested: true },
      })
      expect((await chunks(job.id)).map((c) => c.status)).toEqual([
        'running',
        'cancelled',
        'cancelled',
      ])
      expect(await queue().claim({ kinds: [request.kind], leaseMs: 60_000 })).toBeNull()

      expect(
        await queue().checkpoint(running.lease, { page: 1 }, { fetched: 1, written: 1 }, 60_000),
      ).toEqual({ kind: 'cancelled' })
      expect(await queue().release(running.lease, { progressed: true })).toEqual({
        kind: 'cancelled',
      })
      expect(await queue().getJob(job.id)).toMatchObject({
        status: 'cancelled',
        progress: { itemsWritten: 1 },
      })
      expect((await chunks(job.id))[0]).toMatchObject({ status: 'cancelled', cursor: { page: 1 } })
      expect(await queue().cancel(job.id)).toMatchObject({ kind: 'finished' })
    })

    it('answers not-found for an unknown or malformed id', async () => {
      expect(await queue().cancel(randomUUID())).toEqual({ kind: 'not-found' })
      expect(await queue().getJob('not-a-uuid')).toBeNull()
      expect(await queue().cancel("x' or 1=1 --")).toEqual({ kind: 'not-found' })
    })
  })
})
