import type { PoolLike } from '#core/db/client.ts'
import { isUuid } from '#core/validation/uuid.ts'
import { type JobRow, type JobView, toJobView } from './job-view.ts'
import * as sql from './queue-sql.ts'
import type { Json } from './types.ts'

// Each function runs single statements (never a client-side transaction), so a function's pool of
// one PgBouncer connection is enough. The statements are in queue-sql.ts.

type Queryable = Pick<PoolLike, 'query'>

/** A worker's hold on a chunk; every write of the chunk names the token it was claimed with. */
export type Lease = { chunkId: string; jobId: string; token: string }

/** A chunk handed to a worker by `claim`. */
export type ClaimedChunk = {
  lease: Lease
  kind: string
  params: Json
  seq: number
  scope: Json
  cursor: Json | null
  /** This claim's number, from 1; the chunk fails after `maxAttempts` unsuccessful ones. */
  attempt: number
  maxAttempts: number
}

/** A job to create: its kind, parameters and one scope per chunk. */
export type EnqueueRequest = {
  kind: string
  params: Json
  /** One chunk per scope, run in this order; none makes a job that has already succeeded. */
  scopes: readonly Json[]
  createdBy: string
  /** While a job with this key is queued or running, enqueueing another returns that one. */
  dedupeKey?: string
  /** At most one job per run key, in any state (e.g. one daily sync per day). */
  runKey?: string
  maxAttempts?: number
  /** Claim order among due chunks: 0 first (daily syncs), 1 by default (backfills). */
  priority?: number
}

/** `created: false` carries the job that holds the dedupe key (or the run key). */
export type EnqueueResult = { created: true; job: JobView } | { created: false; job: JobView }

/** What a write under a lease found: still ours, taken by another worker, or cancelled. */
export type LeaseResult = { kind: 'ok' } | { kind: 'lost' } | { kind: 'cancelled' }

/** Counters of one step, added to the chunk's, and its warning (kept until replaced). */
export type StepCounts = { fetched: number; written: number; failed?: number; warning?: string }

/** Whether a chunk's completion or failure was recorded (`lost`: another worker holds it). */
export type FinishResult = { kind: 'done' } | { kind: 'lost' }

/** Where a retry left the chunk. */
export type RetryResult =
  | { kind: 'scheduled'; runAfter: Date }
  | { kind: 'exhausted' } // the chunk failed for good, keeping its cursor
  | { kind: 'cancelled' }
  | { kind: 'lost' }

/** Where a release left the chunk: queued for the next worker, failed, or cancelled meanwhile. */
export type ReleaseResult =
  | { kind: 'released' }
  | { kind: 'exhausted' } // no page in its last attempt: the chunk failed for good, keeping its cursor
  | { kind: 'cancelled' }
  | { kind: 'lost' }

/** What a cancel request found. */
export type CancelResult =
  | { kind: 'requested'; job: JobView } // queued chunks are cancelled now, running ones at their next step
  | { kind: 'finished'; job: JobView } // nothing left to cancel
  | { kind: 'not-found' }

/** What a resume found. */
export type ResumeResult =
  | { kind: 'resumed'; job: JobView }
  | { kind: 'not-resumable'; job: JobView } // still active, or it succeeded
  | { kind: 'conflict'; job: JobView } // another active job holds the dedupe key
  | { kind: 'not-found' }

/** Chunks the reaper moved, by where they went, and jobs it finished. */
export type ReapSummary = { requeued: number; failed: number; cancelled: number; settled: number }

/** Days finished jobs are kept: succeeded and cancelled ones, and failed ones. */
export type RetentionPolicy = { retentionDays: number; failedRetentionDays: number }

/** The queue's vital signs for the deep health check (docs/ARCHITECTURE.md, "Health"). */
export type QueueStats = {
  /** How long the oldest due chunk has waited for a worker, in seconds; null when none waits. */
  oldestDueSeconds: number | null
  /** Chunks whose worker stopped without releasing them (the next worker reaps them). */
  expiredLeases: number
  failedJobs24h: number
}

/** The Postgres job queue (docs/ARCHITECTURE.md, "The job engine"). */
export type JobQueue = ReturnType<typeof createJobQueue>

// The error of a chunk released without a page finished (see `release`).
const NO_PAGE_IN_BUDGET = "No page finished within the worker's time budget."

const DELETE_BATCH = 1000

type ClaimRow = {
  id: string
  job_id: string
  seq: number
  scope: Json
  cursor: Json | null
  attempts: number
  max_attempts: number
  lease_token: string
  kind: string
  params: Json
  job_status: string
}

/**
 * The job queue over Postgres: enqueue with dedupe, claim with `FOR UPDATE SKIP LOCKED`, writes
 * fenced by the lease token, cancel, resume, reaping and retention.
 * @example const jobs = createJobQueue(pool); await jobs.enqueue({ kind, params, scopes, createdBy })
 */
export function createJobQueue(pool: Queryable) {
  async function jobRows(where: string, values: unknown[]): Promise<JobRow[]> {
    const result = await pool.query<JobRow>(`${sql.SELECT_JOBS} ${where}`, values)
    return result.rows
  }

  async function getJob(id: string): Promise<JobView | null> {
    if (!isUuid(id)) {
      return null
    }
    const [row] = await jobRows('WHERE j.id = $1', [id])
    return row ? toJobView(row) : null
  }

  async function mustGetJob(id: string): Promise<JobView> {
    const job = await getJob(id)
    if (!job) {
      throw new Error(`Job ${id} vanished while the queue was reading it.`)
    }
    return job
  }

  /** Finishes the job (or, without an id, every active job) whose chunks are all done. */
  async function settle(jobId: string | null): Promise<number> {
    const result = await pool.query(sql.SETTLE, [jobId])
    return result.rowCount ?? 0
  }

  async function leaseWrite(statement: string, values: unknown[]): Promise<LeaseResult> {
    const result = await pool.query<{ cancel_requested: boolean }>(statement, values)
    const [row] = result.rows
    if (!row) {
      return { kind: 'lost' }
    }
    return row.cancel_requested ? { kind: 'cancelled' } : { kind: 'ok' }
  }

  // One round trip; a second (SETTLE) only when FINISH found no other open chunk of the job to hold
  // (usually: this was its last).
  async function finish(lease: Lease, status: 'succeeded' | 'failed', error: string | null) {
    const result = await pool.query<{ settle: boolean }>(sql.FINISH, [
      lease.chunkId,
      lease.token,
      status,
      error,
    ])
    const [row] = result.rows
    if (!row) {
      return { kind: 'lost' } as const
    }
    if (row.settle) {
      await settle(lease.jobId)
    }
    return { kind: 'done' } as const
  }

  return {
    /**
     * Creates a job and its chunks in one statement, unless an active job holds `dedupeKey` or
     * any job holds `runKey`: then that job is returned with `created: false`.
     */
    async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
      const values = [
        request.kind,
        JSON.stringify(request.params),
        request.dedupeKey ?? null,
        request.runKey ?? null,
        request.createdBy,
        JSON.stringify(request.scopes),
        request.maxAttempts ?? 8,
        request.priority ?? 1,
      ]
      // The holder may finish between the insert and the look-up; then insert again.
      for (let round = 0; round < 5; round++) {
        const inserted = await pool.query<{ id: string }>(sql.INSERT_JOB, values)
        const createdId = inserted.rows[0]?.id
        if (createdId) {
          return { created: true, job: await mustGetJob(createdId) }
        }
        const holder = await pool.query<{ id: string }>(sql.FIND_HOLDER, [
          request.dedupeKey ?? null,
          request.runKey ?? null,
        ])
        const job = holder.rows[0] && (await getJob(holder.rows[0].id))
        if (job) {
          return { created: false, job }
        }
      }
      throw new Error(`Could not enqueue a ${request.kind} job: its key kept changing hands.`)
    },

    /**
     * Leases the next due chunk of one of `kinds` for `leaseMs`, or null when none is due; the
     * first claim of a job also marks it started (a second statement, once per job).
     */
    async claim(options: {
      kinds: readonly string[]
      leaseMs: number
    }): Promise<ClaimedChunk | null> {
      const result = await pool.query<ClaimRow>(sql.CLAIM, [options.kinds, options.leaseMs])
      const row = result.rows[0]
      if (!row) {
        return null
      }
      if (row.job_status === 'queued') {
        await pool.query(sql.START_JOB, [row.id, row.lease_token])
      }
      return {
        lease: { chunkId: row.id, jobId: row.job_id, token: row.lease_token },
        kind: row.kind,
        params: row.params,
        seq: row.seq,
        scope: row.scope,
        cursor: row.cursor,
        attempt: row.attempts,
        maxAttempts: row.max_attempts,
      }
    },

    /** Stores the cursor after a durably written page, adds its counters and extends the lease. */
    checkpoint(lease: Lease, cursor: Json, counts: StepCounts, leaseMs: number) {
      return leaseWrite(sql.CHECKPOINT, [
        lease.chunkId,
        lease.token,
        leaseMs,
        JSON.stringify(cursor),
        counts.fetched,
        counts.written,
        counts.failed ?? 0,
        counts.warning ?? null,
      ])
    },

    /** Extends the lease while a long page is in flight. */
    heartbeat(lease: Lease, leaseMs: number) {
      return leaseWrite(sql.HEARTBEAT, [lease.chunkId, lease.token, leaseMs])
    },

    /** The chunk is done. */
    complete(lease: Lease): Promise<FinishResult> {
      return finish(lease, 'succeeded', null)
    },

    /** The chunk failed for good (it keeps its cursor, so `resume` continues from it). */
    fail(lease: Lease, message: string): Promise<FinishResult> {
      return finish(lease, 'failed', message)
    },

    /** Queues the chunk again after `delayMs`, or fails it when it has used all its attempts. */
    async retry(lease: Lease, options: { delayMs: number; error: string }): Promise<RetryResult> {
      const result = await pool.query<{ status: string; run_after: Date }>(sql.RETRY, [
        lease.chunkId,
        lease.token,
        options.delayMs,
        options.error,
      ])
      const row = result.rows[0]
      if (!row) {
        return { kind: 'lost' }
      }
      if (row.status === 'queued') {
        return { kind: 'scheduled', runAfter: row.run_after }
      }
      await settle(lease.jobId)
      return row.status === 'failed' ? { kind: 'exhausted' } : { kind: 'cancelled' }
    },

    /**
     * Hands the chunk back for the next invocation (cancels it instead if that was requested).
     * The attempt is given back only when it `progressed` (checkpointed a page); otherwise it
     * counts, and the last one fails the chunk with `NO_PAGE_IN_BUDGET`, keeping its cursor.
     */
    async release(lease: Lease, options: { progressed: boolean }): Promise<ReleaseResult> {
      const result = await pool.query<{ status: string }>(sql.RELEASE, [
        lease.chunkId,
        lease.token,
        options.progressed,
        NO_PAGE_IN_BUDGET,
      ])
      const row = result.rows[0]
      if (!row) {
        return { kind: 'lost' }
      }
      if (row.status === 'queued') {
        return { kind: 'released' }
      }
      await settle(lease.jobId)
      return row.status === 'failed' ? { kind: 'exhausted' } : { kind: 'cancelled' }
    },

    /** Requests a cooperative cancel: queued chunks now, running ones at their next step. */
    async cancel(jobId: string): Promise<CancelResult> {
      const existing = await getJob(jobId)
      if (!existing) {
        return { kind: 'not-found' }
      }
      // Two statements, job first: a claim locks chunk then job, so one statement locking job
      // then chunks could deadlock with it.
      const requested = await pool.query(sql.REQUEST_CANCEL, [jobId])
      if (requested.rowCount === 0) {
        return { kind: 'finished', job: await mustGetJob(jobId) }
      }
      await pool.query(sql.CANCEL_CHUNKS, [jobId])
      await settle(jobId)
      return { kind: 'requested', job: await mustGetJob(jobId) }
    },

    /** Requeues a failed or cancelled job's unfinished chunks from their cursors. */
    async resume(jobId: string): Promise<ResumeResult> {
      const existing = await getJob(jobId)
      if (!existing) {
        return { kind: 'not-found' }
      }
      try {
        const resumed = await pool.query(sql.RESUME, [jobId])
        if (resumed.rowCount === 0) {
          return { kind: 'not-resumable', job: await mustGetJob(jobId) }
        }
      } catch (err) {
        // 23505: reactivating the job collides with the active job holding its dedupe key.
        if ((err as { code?: string }).code !== '23505') {
          throw err
        }
        const rival = await pool.query<{ id: string }>(sql.FIND_RIVAL, [jobId])
        const job = rival.rows[0] && (await getJob(rival.rows[0].id))
        return job ? { kind: 'conflict', job } : { kind: 'not-resumable', job: existing }
      }
      return { kind: 'resumed', job: await mustGetJob(jobId) }
    },

    /** Clears expired leases (requeue, fail when exhausted, cancel) and settles finished jobs. */
    async reap(): Promise<ReapSummary> {
      const result = await pool.query<{ next: string }>(sql.REAP)
      const count = (next: string) => result.rows.filter((row) => row.next === next).length
      const settled = await settle(null)
      return {
        requeued: count('queued'),
        failed: count('failed'),
        cancelled: count('cancelled'),
        settled,
      }
    },

    /** A job with its progress (one query), or null for an unknown or malformed id. */
    getJob,

    /** The most recent jobs, newest first, optionally of one kind. */
    async listJobs(options: { kind?: string; limit: number }): Promise<JobView[]> {
      const rows = await jobRows(
        'WHERE ($1::text IS NULL OR j.kind = $1) ORDER BY j.created_at DESC, j.id LIMIT $2',
        [options.kind ?? null, options.limit],
      )
      return rows.map(toJobView)
    },

    /** Waiting time, expired leases and recent failures, for the deep health check. */
    async stats(): Promise<QueueStats> {
      const result = await pool.query<{
        oldest_due_seconds: number | null
        expired_leases: number
        failed_jobs_24h: number
      }>(sql.STATS)
      const row = result.rows[0]
      return {
        oldestDueSeconds: row?.oldest_due_seconds ?? null,
        expiredLeases: row?.expired_leases ?? 0,
        failedJobs24h: row?.failed_jobs_24h ?? 0,
      }
    },

    /** Deletes finished jobs past their retention (their chunks cascade); returns how many. */
    async deleteExpired(policy: RetentionPolicy): Promise<number> {
      let total = 0
      for (;;) {
        const result = await pool.query(sql.DELETE_EXPIRED, [
          policy.retentionDays,
          policy.failedRetentionDays,
          DELETE_BATCH,
        ])
        total += result.rowCount ?? 0
        if ((result.rowCount ?? 0) < DELETE_BATCH) {
          return total
        }
      }
    },
  }
}
