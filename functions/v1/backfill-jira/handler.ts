import type { HttpHandler } from '#core/http/types.ts'
import { type BackfillRoutesDeps, createBackfillHandler } from '#pipelines/backfill/routes.ts'
import { BackfillJiraInput, JIRA_START_LIMIT } from '#pipelines/jira/inputs.ts'

/**
 * v1/backfill-jira: `POST /` starts a Jira → Pinecone backfill (admin, 3 an hour), `GET /` lists,
 * `GET /:jobId` shows progress, `DELETE /:jobId` cancels, `POST /:jobId/resume` resumes.
 */
export function createBackfillJiraHandler(deps: BackfillRoutesDeps): HttpHandler {
  return createBackfillHandler(deps, {
    kind: 'backfill-jira',
    label: 'Jira backfill',
    input: BackfillJiraInput,
    // One Jira backfill at a time, whichever projects it covers: they share Jira's rate limits.
    dedupeKey: () => 'backfill-jira',
    rateRule: JIRA_START_LIMIT,
  })
}
