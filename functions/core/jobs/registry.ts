import type { EnqueueRequest, EnqueueResult, JobQueue } from './queue.ts'
import type { JobKind, Json } from './types.ts'

/** A daily incremental job that `jobs/sync` enqueues once per UTC day. */
export type DailySync = {
  /** The kind of the day's job; it must be registered too. */
  kind: string
  /** At most one active job per key; the day's run is `daily:<dedupeKey>:<YYYY-MM-DD>`. */
  dedupeKey: string
  /** The day's job parameters (a sync reads its own watermark, so usually `{}`). */
  params: (day: string) => Json
}

/** The job kinds one deployment runs, by name, and its daily syncs. */
export type JobRegistry = {
  names: readonly string[]
  get(kind: string): JobKind | undefined
  dailySyncs: readonly DailySync[]
}

/**
 * Widens a typed kind for the registry. Sound as far as the engine goes: it hands `run` only the
 * scopes `plan` returned and the cursors `run` yielded; `params` are what the kind's own handler
 * validated (a kind re-validates them if it must trust nothing).
 * @example defineJobKind<Params, { key: string }, { page: number }>({ kind: 'backfill-x', plan, run })
 */
export function defineJobKind<P extends Json, S extends Json, C extends Json>(
  kind: JobKind<P, S, C>,
): JobKind {
  return kind as unknown as JobKind
}

/**
 * A registry of kinds and daily syncs.
 * @throws {Error} when two kinds share a name or a daily sync names an unknown kind: a wiring
 * mistake, found when the function starts.
 */
export function createJobRegistry(
  kinds: readonly JobKind[],
  dailySyncs: readonly DailySync[] = [],
): JobRegistry {
  const byName = new Map<string, JobKind>()
  for (const kind of kinds) {
    if (byName.has(kind.kind)) {
      throw new Error(`Job kind ${kind.kind} is registered twice.`)
    }
    byName.set(kind.kind, kind)
  }
  const unknown = dailySyncs.filter((sync) => !byName.has(sync.kind)).map((sync) => sync.kind)
  if (unknown.length > 0) {
    throw new Error(`Daily syncs name unregistered job kinds: ${unknown.join(', ')}.`)
  }
  return { names: [...byName.keys()], get: (kind) => byName.get(kind), dailySyncs }
}

/**
 * How long a kind's `plan` may wait on an upstream, in ms. It runs inside a backfill's web start (a
 * function of 25 s, project.yml) before anything is queued, so a slow or paused upstream must not
 * hold it; the rest of the budget is for the database and the answer.
 */
export const PLAN_TIMEOUT_MS = 8000

/** A job to start: the queue's request without the scopes, which the kind plans. */
export type StartJobRequest = Omit<EnqueueRequest, 'scopes'>

/**
 * Plans a registered kind's chunks and enqueues the job (or finds the active one).
 * @throws {Error} for an unregistered kind; whatever the kind's `plan` throws.
 * @example const started = await startJob({ jobs, registry }, { kind: 'backfill-x', params, createdBy, dedupeKey: 'backfill-x' })
 */
export async function startJob(
  deps: { jobs: Pick<JobQueue, 'enqueue'>; registry: JobRegistry },
  request: StartJobRequest,
): Promise<EnqueueResult> {
  const kind = deps.registry.get(request.kind)
  if (!kind) {
    throw new Error(`Job kind ${request.kind} is not registered.`)
  }
  const scopes = await kind.plan(request.params)
  const priority = request.priority ?? kind.priority
  return deps.jobs.enqueue({ ...request, scopes, ...(priority !== undefined && { priority }) })
}
