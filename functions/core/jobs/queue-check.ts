import type { HealthCheck } from '#core/health/checks.ts'
import type { JobQueue } from './queue.ts'

/** A due chunk waiting longer than this means no worker is running (the cron fires every minute). */
export const MAX_WAIT_SECONDS = 600

/**
 * The queue is being worked: no due chunk has waited over ten minutes. Expired leases (a killed
 * worker, reaped by the next one) and failed jobs of the last day are reported, not failed on.
 */
export function queueCheck(jobs: Pick<JobQueue, 'stats'>): HealthCheck {
  return {
    name: 'queue',
    run: async () => {
      const stats = await jobs.stats()
      const waiting = stats.oldestDueSeconds ?? 0
      return {
        ok: waiting <= MAX_WAIT_SECONDS,
        details: { ...stats, maxWaitSeconds: MAX_WAIT_SECONDS },
      }
    },
  }
}
