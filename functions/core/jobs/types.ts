// The job engine's types. Its terminology (job, kind, chunk, step, attempt, cursor, lease) is
// defined once, in docs/ARCHITECTURE.md ("The job engine").

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
  | {
      kind: 'page'
      cursor: Cursor
      fetched: number
      written: number
      failed?: number
      /** Shown in the job's progress until replaced (e.g. deletions held back for a decision). */
      warning?: string
    }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }

/** What a runner receives for one attempt of a chunk. */
export type ChunkInput<Scope extends Json = Json, Cursor extends Json = Json> = {
  jobId: string
  params: Json // the job's validated parameters
  scope: Scope
  cursor: Cursor | null // null on the first attempt
  /** This attempt's hold on the chunk: database writes of the sinks name it (see `leaseHeld`). */
  lease: { chunkId: string; token: string }
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
  /** Claim order of its chunks among due ones: 0 first (small daily syncs), 1 by default. */
  priority?: number
  /** Splits a job into chunk scopes (e.g. one per project). */
  plan(params: Params): Promise<Scope[]>
  run: ChunkRunner<Scope, Cursor>
}
