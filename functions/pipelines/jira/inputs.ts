import * as v from 'valibot'
import type { RateLimitRule } from '#core/rate-limit/rules.ts'
import { ConfirmDeletions } from '#pipelines/backfill/deletion-brake.ts'
import { DaysBack, Projects } from '#pipelines/backfill/inputs.ts'

/** POST v1/backfill-jira input, from the query string or the JSON body; unknown fields are refused. */
export const BackfillJiraInput = v.strictObject({
  /** days back from now, 1–3650 (default 2555, about 7 years) */
  days: v.optional(DaysBack, 2555),
  /** the projects to import (default: the active ones, else every project Jira shows) */
  projects: v.optional(Projects),
  /** let deletions over the brake's share through (`true`/`false`, default false) */
  confirmDeletions: v.optional(ConfirmDeletions),
})

/** Jira backfill starts (and resumes) per principal: 3 an hour. */
export const JIRA_START_LIMIT: RateLimitRule = {
  name: 'backfill-jira-start',
  limit: 3,
  windowSeconds: 3600,
}

/** `backfill-jira` parameters: the start's input as validated. */
export type JiraBackfillParams = v.InferOutput<typeof BackfillJiraInput>
