import type { ScheduledHandler } from '#core/platform/scheduled-entry.ts'
import type { Services } from '#core/services.ts'

export type CleanupDeps = Pick<Services, 'jobs' | 'config'>

/**
 * Scheduled jobs/cleanup (hourly at :15): deletes succeeded and cancelled jobs after
 * `JOB_RETENTION_DAYS`, failed ones after 30 days (their chunks cascade), and clears expired
 * leases in case no worker has run.
 */
export function createCleanupHandler(deps: CleanupDeps): ScheduledHandler {
  return async () => {
    const deletedJobs = await deps.jobs.deleteExpired(deps.config.jobs)
    const reaped = await deps.jobs.reap()
    return { deletedJobs, reaped }
  }
}
