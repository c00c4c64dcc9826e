import { runWorker, type WorkerOptions } from '#core/jobs/engine.ts'
import type { JobRegistry } from '#core/jobs/registry.ts'
import type { DoContext } from '#core/platform/do-event.ts'
import type { ScheduledHandler } from '#core/platform/scheduled-entry.ts'
import type { Services } from '#core/services.ts'

export type WorkerDeps = Pick<Services, 'jobs' | 'log'> & {
  registry: JobRegistry
  /** Engine settings (tests shorten leases, margins and backoff). */
  engine?: Partial<
    Pick<WorkerOptions, 'marginMs' | 'leaseMs' | 'heartbeatMs' | 'backoff' | 'random'>
  >
}

// Without a platform deadline (a local run), a worker gives itself this long.
const LOCAL_BUDGET_MS = 60_000

/** Milliseconds left in this activation, from DigitalOcean's context. */
export function remainingTime(context: DoContext): () => number {
  if (typeof context.getRemainingTimeInMillis === 'function') {
    return context.getRemainingTimeInMillis
  }
  const deadline = context.deadline ?? Date.now() + LOCAL_BUDGET_MS
  return () => deadline - Date.now()
}

/** Scheduled jobs/worker (every minute): reaps expired leases, then runs chunks within the budget. */
export function createWorkerHandler(deps: WorkerDeps): ScheduledHandler {
  return async (_event, context) => {
    const summary = await runWorker({
      ...deps.engine,
      jobs: deps.jobs,
      registry: deps.registry,
      log: deps.log,
      remainingMs: remainingTime(context),
    })
    return { ...summary }
  }
}
