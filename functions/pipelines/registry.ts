import type { DailySync } from '#core/jobs/registry.ts'
import type { JobKind } from '#core/jobs/types.ts'
import type { Services } from '#core/services.ts'
import { createJiraBackfillKind, createJiraSyncKind } from '#pipelines/jira/kinds.ts'
import { createTempoKinds, TEMPO_DAILY_SYNC } from '#pipelines/tempo/kinds.ts'

/**
 * The job kinds `jobs/worker` runs. Each pipeline adds its kinds here (wrapped in
 * `defineJobKind`), built from the services it needs; a kind missing here is never claimed, so
 * its jobs wait rather than fail.
 */
export function createJobKinds(
  services: Services,
  options: { planTimeoutMs?: number } = {},
): JobKind[] {
  const deps = { ...services, ...options }
  const tempo = createTempoKinds({ ...services, options })
  return [createJiraBackfillKind(deps), createJiraSyncKind(deps), tempo.backfill, tempo.sync]
}

/** How long `jobs/sync` (60 s, once a day) lets planning wait for Jira; a web start gets 8 s. */
export const SYNC_PLAN_TIMEOUT_MS = 40_000

/** The daily incremental syncs `jobs/sync` enqueues; each names a kind of `createJobKinds`. */
export function createDailySyncs(_services: Services): DailySync[] {
  return [{ kind: 'sync-jira', dedupeKey: 'sync-jira', params: () => ({}) }, TEMPO_DAILY_SYNC]
}
