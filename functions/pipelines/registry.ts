import { createJobRegistry, type JobRegistry } from '#core/jobs/registry.ts'
import type { Services } from '#core/services.ts'
import {
  createJiraBackfillKind,
  createJiraSyncKind,
  JIRA_DAILY_SYNC,
} from '#pipelines/jira/kinds.ts'
import { createTempoKinds, TEMPO_DAILY_SYNC } from '#pipelines/tempo/kinds.ts'

/**
 * How long `jobs/sync` (60 s, once a day) lets the Jira kinds' planning wait for Jira's project
 * list; a web start gets `PLAN_TIMEOUT_MS`. The Tempo kinds plan without Jira.
 */
export const SYNC_PLAN_TIMEOUT_MS = 40_000

/**
 * The one job registry every entry uses: the Jira and Tempo kinds, built from the services they
 * need, and their daily syncs. A kind missing here is never claimed, so its jobs wait rather
 * than fail.
 * @example const registry = createPipelineRegistry(services, { planTimeoutMs: SYNC_PLAN_TIMEOUT_MS })
 */
export function createPipelineRegistry(
  services: Services,
  options: { planTimeoutMs?: number } = {},
): JobRegistry {
  const deps = { ...services, ...options }
  const tempo = createTempoKinds(services)
  return createJobRegistry(
    [createJiraBackfillKind(deps), createJiraSyncKind(deps), tempo.backfill, tempo.sync],
    [JIRA_DAILY_SYNC, TEMPO_DAILY_SYNC],
  )
}
