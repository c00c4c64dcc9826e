import type { JOB_STATUSES } from '#db/schema.ts'
import type { Json } from './types.ts'

/** A job's state: `queued` → `running` → `succeeded` | `failed` | `cancelled`. */
export type JobStatus = (typeof JOB_STATUSES)[number]

/** How far a job has got, derived from its chunks. */
export type JobProgress = {
  chunksTotal: number
  chunksDone: number // succeeded
  chunksFailed: number
  itemsFetched: number
  itemsWritten: number
  itemsFailed: number
  /** Items written per second since the job started; null before it starts. */
  ratePerSecond: number | null
  /** Remaining chunks × the mean time per finished chunk so far; null when unknown or finished. */
  etaSeconds: number | null
  /** The most recent error of any chunk, a sentence for a person. */
  lastError: string | null
  /** Outcomes that need a person's decision (e.g. deletions held back), one per chunk, in order. */
  warnings: string[]
}

/** A job as the API shows it (JSON, camelCase, ISO-8601 times). */
export type JobView = {
  id: string
  kind: string
  status: JobStatus
  params: Json
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  cancelRequested: boolean
  progress: JobProgress
}

/** A row of the queue's job query (functions/core/jobs/queue.ts), in the database's spelling. */
export type JobRow = {
  id: string
  kind: string
  status: JobStatus
  params: Json
  created_at: Date
  started_at: Date | null
  finished_at: Date | null
  cancel_requested: boolean
  chunks_total: number
  chunks_done: number
  chunks_failed: number
  items_fetched: number
  items_written: number
  items_failed: number
  warnings: string[]
  /** Seconds from the start to the finish, or to the database's now() while running. */
  elapsed_seconds: number | null
  last_error: string | null
}

const ACTIVE: ReadonlySet<JobStatus> = new Set(['queued', 'running'])

/** Whether a job still has work to do (its dedupe key is taken while it is). */
export function isActive(status: JobStatus): boolean {
  return ACTIVE.has(status)
}

function round(value: number, places: number): number {
  const factor = 10 ** places
  return Math.round(value * factor) / factor
}

/** The rate and ETA of a job row; pure, so the arithmetic is tested without a database. */
export function rateAndEta(row: JobRow): Pick<JobProgress, 'ratePerSecond' | 'etaSeconds'> {
  const elapsed = row.elapsed_seconds
  if (elapsed === null || elapsed <= 0) {
    return { ratePerSecond: null, etaSeconds: null }
  }
  const ratePerSecond = round(row.items_written / elapsed, 2)
  const finished = row.chunks_done + row.chunks_failed
  const remaining = row.chunks_total - finished
  const etaSeconds =
    isActive(row.status) && finished > 0 && remaining > 0
      ? Math.ceil((elapsed / finished) * remaining)
      : null
  return { ratePerSecond, etaSeconds }
}

/**
 * The API's view of a job row.
 * @example toJobView(row).progress.chunksDone
 */
export function toJobView(row: JobRow): JobView {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    params: row.params,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
    cancelRequested: row.cancel_requested,
    progress: {
      chunksTotal: row.chunks_total,
      chunksDone: row.chunks_done,
      chunksFailed: row.chunks_failed,
      itemsFetched: row.items_fetched,
      itemsWritten: row.items_written,
      itemsFailed: row.items_failed,
      ...rateAndEta(row),
      lastError: row.last_error,
      warnings: row.warnings,
    },
  }
}
