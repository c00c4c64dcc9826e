import { isoDay } from '#core/dates.ts'
import { type JobRegistry, startJob } from '#core/jobs/registry.ts'
import type { ScheduledHandler } from '#core/platform/scheduled-entry.ts'
import type { Services } from '#core/services.ts'

export type SyncDeps = Pick<Services, 'jobs' | 'log' | 'clock'> & { registry: JobRegistry }

type SyncReport =
  | { kind: string; jobId: string; created: boolean }
  | { kind: string; error: string }

/**
 * Scheduled jobs/sync (06:30 UTC): enqueues each registered daily sync once per UTC day. A second
 * run on the same day finds the day's jobs (run key `daily:<dedupeKey>:<day>`) and adds none; a
 * sync still active from an earlier day is left to finish.
 */
export function createSyncHandler(deps: SyncDeps): ScheduledHandler {
  return async () => {
    const day = isoDay(deps.clock.now())
    const reports: SyncReport[] = []
    for (const sync of deps.registry.dailySyncs) {
      try {
        const started = await startJob(deps, {
          kind: sync.kind,
          params: sync.params(day),
          dedupeKey: sync.dedupeKey,
          runKey: `daily:${sync.dedupeKey}:${day}`,
          createdBy: 'jobs/sync',
        })
        reports.push({ kind: sync.kind, jobId: started.job.id, created: started.created })
      } catch (err) {
        // One sync's failure (its plan could not reach Jira) must not cost the others their day.
        deps.log.error({ err, kind: sync.kind, day }, 'daily sync not enqueued')
        reports.push({ kind: sync.kind, error: err instanceof Error ? err.name : 'Error' })
      }
    }
    const created = reports.filter((r) => 'created' in r && r.created).length
    const failed = reports.filter((r) => 'error' in r).length
    return { day, created, existing: reports.length - created - failed, failed, jobs: reports }
  }
}
