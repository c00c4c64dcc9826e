import type { WorkerOptions } from '#core/jobs/engine.ts'

/**
 * The engine's times in the soak: production's scaled down about six times (a 60 s lease becomes
 * 10 s, backoff 2 s…5 min becomes 0.5 s…5 s), so a killed worker's chunk is reclaimed and a
 * retried chunk comes round within a run of minutes. The rules (fencing, attempts, deletions)
 * are the production ones.
 */
export const SOAK_ENGINE: Partial<WorkerOptions> = {
  leaseMs: 10_000,
  marginMs: 4_000,
  backoff: { baseMs: 500, capMs: 5_000, maxRetryAfterMs: 5_000 },
}

/** Each worker invocation's budget, and how long past it the platform lets it run before killing it. */
export const WORKER_BUDGET_MS = 30_000
export const WORKER_GRACE_MS = 20_000
