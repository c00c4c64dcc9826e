/**
 * Terminology of the job engine:
 * - job: one request for work (a backfill, a daily sync), a row of `jobs`. Its status and progress
 *   are derived from its chunks.
 * - kind: what a job does (`backfill-jira`, `sync-jira`, `backfill-tempo`, `sync-tempo`, …); each kind
 *   has a `JobKind` that plans its chunks and runs them.
 * - chunk: the unit a worker claims, a row of `job_chunks`: one Jira project, one Tempo window.
 * - step: one page fetched from an upstream and written to the sinks; the engine checkpoints after
 *   each step (cursor and counters, lease extended under the fencing token).
 * - attempt: one claim of a chunk. Attempts count towards `max_attempts`; a chunk that reaches it
 *   fails and keeps its cursor, so `resume` continues where it stopped.
 * - cursor: the JSON a runner needs to continue a chunk after its last checkpoint.
 */

/** A JSON value as stored in jsonb columns. */
export type Json =
  | null
  | boolean
  | number
  | string
  | Json[]
  // An optional field may be undefined: JSON.stringify leaves it out when the value is stored.
  | { [key: string]: Json | undefined }

/** What one step reports: the page was written, or a known transient failure asks for a retry. */
export type StepResult<Cursor extends Json = Json> =
  | { kind: 'page'; cursor: Cursor; fetched: number; written: number; failed?: number }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }

/** What a runner receives for one attempt of a chunk. */
export type ChunkInput<Scope extends Json = Json, Cursor extends Json = Json> = {
  jobId: string
  params: Json // the job's validated parameters
  scope: Scope
  cursor: Cursor | null // null on the first attempt
  /** Aborted when the lease is lost, the job was cancelled or the time budget ran out. */
  signal: AbortSignal
}

/**
 * Runs one chunk as a sequence of steps. Returning ends the chunk as done; yielding `retry` ends
 * the attempt with backoff. Throwing an `AppError` that is not `retryable` fails the chunk at once;
 * any other throw is retried with backoff up to `max_attempts`.
 */
export type ChunkRunner<Scope extends Json = Json, Cursor extends Json = Json> = (
  input: ChunkInput<Scope, Cursor>,
) => AsyncGenerator<StepResult<Cursor>, void, void>

/** A kind of job: how a request becomes chunks, and how a chunk runs. */
export type JobKind<
  Params extends Json = Json,
  Scope extends Json = Json,
  Cursor extends Json = Json,
> = {
  kind: string
  /** Splits a job into chunk scopes (e.g. one per project). */
  plan(params: Params): Promise<Scope[]>
  run: ChunkRunner<Scope, Cursor>
}
