import { runWorker, type WorkerOptions } from '#core/jobs/engine.ts'
import type { JobRegistry } from '#core/jobs/registry.ts'
import type { DoContext } from '#core/platform/do-event.ts'
import type { ScheduledHandler } from '#core/platform/scheduled-entry.ts'
import type { Services } from '#core/services.ts'

export type WorkerDeps = Pick<Services, 'jobs' | 'log'> &
  Partial<Pick<Services, 'workers' | 'kicker'>> & {
    registry: JobRegistry
    /** Engine settings (tests shorten leases, margins, backoff and the wait in place). */
    engine?: Partial<
      Pick<
        WorkerOptions,
        'marginMs' | 'leaseMs' | 'heartbeatMs' | 'backoff' | 'random' | 'waitMs' | 'sleep'
      >
    >
    /**
     * The runtime's `__OW_DEADLINE` for the running activation (epoch ms as a string), read by the
     * entry at each run: the last source of the deadline when the context has none.
     */
    platformDeadline?: () => string | undefined
  }

// Without a platform deadline (a local run), a worker gives itself this long.
const LOCAL_BUDGET_MS = 60_000

/**
 * Milliseconds left in this activation: the context's `getRemainingTimeInMillis` (always called
 * on the context, so a method that reads `this` works too), else its `deadline`, else the
 * runtime's `__OW_DEADLINE`, else a local budget (docs/ARCHITECTURE.md, "The request path").
 */
export function remainingTime(
  context: DoContext,
  platformDeadline: string | undefined = undefined,
  now: () => number = Date.now,
): () => number {
  if (typeof context.getRemainingTimeInMillis === 'function') {
    return () => (context.getRemainingTimeInMillis as () => number).call(context)
  }
  const fromPlatform = Number(platformDeadline)
  const deadline =
    typeof context.deadline === 'number' && Number.isFinite(context.deadline)
      ? context.deadline
      : platformDeadline && Number.isFinite(fromPlatform) && fromPlatform > 0
        ? fromPlatform
        : now() + LOCAL_BUDGET_MS
  return () => deadline - now()
}

/**
 * jobs/worker, on its cron every minute and whenever a kick asks for it: reaps expired leases, then
 * runs chunks within the budget, waiting in place for one due within seconds; with a kicker, it
 * holds a worker slot and asks for more workers while chunks are due (docs/ARCHITECTURE.md, "The
 * job engine").
 */
export function createWorkerHandler(deps: WorkerDeps): ScheduledHandler {
  return async (_event, context) => {
    const summary = await runWorker({
      ...deps.engine,
      jobs: deps.jobs,
      registry: deps.registry,
      log: deps.log,
      ...(deps.workers && { workers: deps.workers }),
      ...(deps.kicker && { kicker: deps.kicker }),
      remainingMs: remainingTime(context, deps.platformDeadline?.()),
    })
    return { ...summary }
  }
}
