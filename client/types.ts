// What the client sends and receives, as types taken from the functions themselves (type-only
// imports: nothing of the server reaches a browser bundle; scripts/check-imports.ts enforces it).
import type * as v from 'valibot'
import type { ErrorCode } from '#core/errors.ts'
import type { JobStatus, JobView } from '#core/jobs/job-view.ts'
import type { InputIssue } from '#core/validation/parse.ts'
import type { BackfillJiraInput } from '#pipelines/jira/inputs.ts'
import type { tempoBackfillInput } from '#pipelines/tempo/inputs.ts'
import type { UserView } from '../functions/v1/login/handler.ts'

export type { ErrorCode, InputIssue, JobStatus, JobView, UserView }

/** `POST v1/backfill-jira`: `days` (1–3650) and `projects` (Jira keys), both optional. */
export type JiraBackfillStart = v.InferInput<typeof BackfillJiraInput>

/** `POST v1/backfill-tempo`: `days`, or `from` and `to` (YYYY-MM-DD); optional `projects`. */
export type TempoBackfillStart = NonNullable<v.InferInput<ReturnType<typeof tempoBackfillInput>>>

/** A signed-in session: the app's token, when it ends (ISO 8601) and whose it is. */
export type Session = { token: string; expiresAt: string; user: UserView }

/** A start, cancel or resume: the job and its URL. */
export type JobAccepted = { job: JobView; url: string }

/** A job with its version (pass it as `since` to wait for the next change). */
export type JobShown = { job: JobView; version: string }

/** The per-client budget as the last answer reported it (`RateLimit-*`). */
export type RateLimitInfo = { limit: number; remaining: number; resetSeconds: number }

/** What every answer says besides its body. */
export type ResponseMeta = {
  status: number
  /** `X-Request-Id`: quote it when reporting a problem (every log line carries it). */
  requestId: string | null
  rateLimit: RateLimitInfo | null
}
