import * as v from 'valibot'
import type { HttpHandler } from '#core/http/types.ts'
import { LIMITS } from '#core/rate-limit/rules.ts'
import { DaysBack, Projects } from '#pipelines/backfill/inputs.ts'
import { type BackfillRoutesDeps, createBackfillHandler } from '#pipelines/backfill/routes.ts'

/** POST v1/backfill-jira input, from the query string or the JSON body; unknown fields are refused. */
export const BackfillJiraInput = v.strictObject({
  /** days back from now, 1–3650 (default 2555, about 7 years) */
  days: v.optional(DaysBack, 2555),
  /** the projects to import (default: the active ones, else every project Jira shows) */
  projects: v.optional(Projects),
})

export type BackfillJiraDeps = BackfillRoutesDeps & { basePath: string }

/**
 * v1/backfill-jira: `POST /` starts a Jira → Pinecone backfill (admin, 3 an hour), `GET /` lists,
 * `GET /:jobId` shows progress, `DELETE /:jobId` cancels, `POST /:jobId/resume` resumes.
 */
export function createBackfillJiraHandler(deps: BackfillJiraDeps): HttpHandler {
  return createBackfillHandler(deps, {
    kind: 'backfill-jira',
    label: 'Jira backfill',
    input: BackfillJiraInput,
    // One Jira backfill at a time, whichever projects it covers: they share Jira's rate limits.
    dedupeKey: () => 'backfill-jira',
    rateRule: LIMITS.jiraBackfillStart,
    basePath: deps.basePath,
  })
}
