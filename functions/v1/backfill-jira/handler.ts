import * as v from 'valibot'
import type { HttpHandler } from '#core/http.ts'
import { type BackfillRoutesDeps, createBackfillHandler } from '#core/jobs/backfill-routes.ts'
import { LIMITS } from '#core/rate-limit.ts'
import { PROJECT_KEY } from '#core/upstreams/jira/jql.ts'

/** Days back, 1–3650: a JSON integer, or its digits in the query string (`days=30`). */
const DaysBack = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^\d{1,6}$/), v.transform(Number))]),
  v.integer(),
  v.minValue(1),
  v.maxValue(3650),
)

/** A Jira project key (`^[A-Z][A-Z0-9_]*$`, at most 255 characters). */
const ProjectKey = v.pipe(v.string(), v.maxLength(255), v.regex(PROJECT_KEY))

/** 1–100 project keys: a JSON array, or a comma list in the query string (`projects=OPS,WEB`). */
const Projects = v.pipe(
  v.union([
    v.array(v.string()),
    v.pipe(
      v.string(),
      v.maxLength(25_600),
      v.transform((list) => list.split(',').map((key) => key.trim())),
    ),
  ]),
  v.minLength(1),
  v.maxLength(100),
  v.array(ProjectKey),
  v.transform((keys) => [...new Set(keys)]),
)

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
