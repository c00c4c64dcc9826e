import * as v from 'valibot'
import type { Principal } from '#core/auth/guard.ts'
import { AppError } from '#core/errors.ts'
import { createRouter, type Route } from '#core/http/router.ts'
import type { HttpHandler, HttpRequest, HttpResponse } from '#core/http/types.ts'
import type { JobView } from '#core/jobs/job-view.ts'
import { type JobRegistry, startJob } from '#core/jobs/registry.ts'
import type { Json } from '#core/jobs/types.ts'
import { enforceLimits, type RateLimitRule } from '#core/rate-limit/rules.ts'
import type { Services } from '#core/services.ts'
import { parseInput } from '#core/validation/parse.ts'
import { isUuid } from '#core/validation/uuid.ts'
import { jobVersion, MAX_WAIT_SECONDS, waitBudgetMs, waitForChange } from './long-poll.ts'

/**
 * The routes every backfill function shares (`v1/backfill-jira`, `v1/backfill-tempo`), all for
 * admins (an admin's bearer token or `X-Admin-Key`):
 *
 * | route | answer |
 * | --- | --- |
 * | `POST /` | 202 `{ job, url }` + `Location`; 409 `{ error: { details: { job } } }` while one is active; 429 over the rate rule |
 * | `GET /` | 200 `{ jobs }`: the kind's most recent jobs (`?limit=1–100`, default 20) |
 * | `GET /:jobId` | 200 `{ job, version }` with progress; 400 for a malformed id; 404 unknown or of another kind |
 * | `GET /:jobId?waitSeconds=N&since=V` | the same, once the job's version differs from `V` (default: its version on arrival) or has finished, or after N (0–20) seconds |
 * | `DELETE /:jobId` | 202 `{ job }`, a cooperative cancel; 409 when it has already finished |
 * | `POST /:jobId/resume` | 202 `{ job }`: a failed or cancelled job continues from its cursors; 409 otherwise |
 *
 * A start or resume asks for a worker run at once (`deps.kicker`, bounded to about a second; without
 * an access key it asks nothing and the minute's cron runs the job).
 *
 * A start's input is the query string and the JSON body merged (body wins), validated by the
 * kind's strict valibot schema, so an unknown field is a 400 and nothing is queued.
 */

/** A start's schema: its output is the job's params, so it must be JSON. */
export type StartSchema = v.GenericSchema<unknown, Json>

/** What a backfill function supplies to get the routes. */
export type BackfillRoutesOptions<S extends StartSchema> = {
  /** The job kind started, listed and controlled here (registered in `deps.registry`). */
  kind: string
  /** A person's name for it in messages, e.g. `Jira backfill`. */
  label: string
  /**
   * A strict schema of the start input (query and body merged). Query values arrive as strings,
   * so numbers and lists must accept their string forms too. Its output becomes the job's params.
   */
  input: S
  /** At most one active job per key, e.g. `() => 'backfill-jira'` or per date window. */
  dedupeKey: (input: v.InferOutput<S>) => string
  /** Starts (and resumes) per principal, e.g. `JIRA_START_LIMIT`; fails closed. */
  rateRule: RateLimitRule
}

/** What the routes use. */
export type BackfillRoutesDeps = Pick<
  Services,
  'auth' | 'rateLimiter' | 'jobs' | 'log' | 'clock' | 'kicker'
> & {
  registry: JobRegistry
  /** Waits between a long poll's reads (tests pass one that moves their clock). */
  sleep?: (ms: number) => Promise<void>
}

/** `GET /` query. */
export const ListQuery = v.strictObject({
  /** jobs to list, 1–100 (default 20) */
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,3}$/), v.transform(Number), v.minValue(1), v.maxValue(100)),
    '20',
  ),
})

/** `GET /:jobId` query: the long poll. */
export const JobQuery = v.strictObject({
  /** seconds to wait for a change, 0–20, written plainly (`5`, not `05` or `5.0`) */
  waitSeconds: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^(0|[1-9]\d?)$/, `Use a whole number of seconds, 0–${MAX_WAIT_SECONDS}.`),
      v.transform(Number),
      v.maxValue(MAX_WAIT_SECONDS, `Use a whole number of seconds, 0–${MAX_WAIT_SECONDS}.`),
    ),
  ),
  /** the `version` of the caller's last answer: wait for a job that differs from it */
  since: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'Use a version as answered.'))),
})

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function record(value: unknown): Record<string, unknown> {
  if (value === undefined) {
    return {}
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('BAD_REQUEST', 'The request body must be a JSON object.', {
      details: { issues: [{ path: '', message: 'Invalid type: expected Object.' }] },
    })
  }
  return value as Record<string, unknown>
}

/** @throws {AppError} BAD_REQUEST for anything but a UUID */
function jobIdOf(params: Record<string, string>): string {
  const id = params.jobId ?? ''
  if (!isUuid(id)) {
    throw new AppError('BAD_REQUEST', 'The job id must be a UUID.', {
      details: { issues: [{ path: 'jobId', message: 'Invalid format: expected a UUID.' }] },
    })
  }
  return id.toLowerCase()
}

// The backfill routes for one kind; `createBackfillHandler` wraps them in a router.
function createBackfillRoutes<S extends StartSchema>(
  deps: BackfillRoutesDeps,
  options: BackfillRoutesOptions<S>,
): Route<Principal>[] {
  // The job's own URL under this function's public path (`Location`, and `url` in the body).
  const urlOf = (req: HttpRequest, job: JobView) => `${req.functionPath}/${job.id}`

  // Counts a start (or resume) against the principal's rule; a failing store refuses (503).
  function limit(principal: Principal): Promise<Record<string, string>> {
    const now = () => deps.clock.now().getTime()
    return enforceLimits({ ...deps, now }, [options.rateRule], `principal:${principal.id}`, {
      failClosed: true,
    })
  }

  /** The job, if it exists and is of this kind. @throws {AppError} BAD_REQUEST, NOT_FOUND */
  async function ownJob(params: Record<string, string>): Promise<JobView> {
    const job = await deps.jobs.getJob(jobIdOf(params))
    if (!job || job.kind !== options.kind) {
      throw new AppError('NOT_FOUND', `No ${options.label} has this id.`)
    }
    return job
  }

  function accepted(
    req: HttpRequest,
    job: JobView,
    headers: Record<string, string> = {},
  ): HttpResponse {
    const url = urlOf(req, job)
    return { status: 202, headers: { ...headers, Location: url }, body: { job, url } }
  }

  /** POST /: start a job. */
  async function start(req: HttpRequest, principal: Principal): Promise<HttpResponse> {
    const input = parseInput(options.input, { ...req.query, ...record(req.body) })
    const headers = await limit(principal)
    // Queue, don't import: DO turns web calls longer than 30 s into async ones.
    const started = await startJob(deps, {
      kind: options.kind,
      params: input,
      dedupeKey: options.dedupeKey(input),
      createdBy: principal.id,
    })
    if (!started.created) {
      throw new AppError('CONFLICT', `A ${options.label} is already active.`, {
        details: { job: started.job },
        headers: { ...headers, Location: urlOf(req, started.job) },
      })
    }
    // A worker now rather than at the next minute's cron; bounded, and never fails the start.
    const workerAsked = await deps.kicker.kick()
    deps.log.info(
      {
        requestId: req.requestId,
        principal: principal.id,
        jobId: started.job.id,
        kind: options.kind,
        workerAsked,
      },
      'backfill queued',
    )
    return accepted(req, started.job, headers)
  }

  return [
    { method: 'POST', path: '/', auth: 'admin', handle: (req, _params, who) => start(req, who) },
    {
      method: 'GET',
      path: '/',
      auth: 'admin',
      handle: async (req) => {
        const query = parseInput(ListQuery, req.query)
        const jobs = await deps.jobs.listJobs({ kind: options.kind, limit: query.limit })
        return { status: 200, body: { jobs } }
      },
    },
    {
      method: 'GET',
      path: '/:jobId',
      auth: 'admin',
      handle: async (req, params) => {
        const query = parseInput(JobQuery, req.query)
        const job = await ownJob(params)
        const latest = query.waitSeconds
          ? await waitForChange(
              {
                read: () => deps.jobs.getJob(job.id),
                clock: deps.clock,
                sleep: deps.sleep ?? realSleep,
              },
              job,
              { since: query.since, waitMs: waitBudgetMs(query.waitSeconds, req.remainingMs()) },
            )
          : job
        if (!latest) {
          throw new AppError('NOT_FOUND', `No ${options.label} has this id.`)
        }
        return { status: 200, body: { job: latest, version: jobVersion(latest) } }
      },
    },
    {
      method: 'DELETE',
      path: '/:jobId',
      auth: 'admin',
      handle: async (req, params, principal) => {
        const job = await ownJob(params)
        const cancelled = await deps.jobs.cancel(job.id)
        if (cancelled.kind === 'not-found') {
          throw new AppError('NOT_FOUND', `No ${options.label} has this id.`)
        }
        if (cancelled.kind === 'finished') {
          throw new AppError('CONFLICT', `This ${options.label} has already finished.`, {
            details: { job: cancelled.job },
          })
        }
        deps.log.info(
          { requestId: req.requestId, principal: principal.id, jobId: job.id },
          'backfill cancel requested',
        )
        return accepted(req, cancelled.job)
      },
    },
    {
      method: 'POST',
      path: '/:jobId/resume',
      auth: 'admin',
      handle: async (req, params, principal) => {
        const job = await ownJob(params)
        const headers = await limit(principal)
        const resumed = await deps.jobs.resume(job.id)
        if (resumed.kind === 'not-found') {
          throw new AppError('NOT_FOUND', `No ${options.label} has this id.`)
        }
        if (resumed.kind === 'conflict') {
          throw new AppError('CONFLICT', `Another ${options.label} is active.`, {
            details: { job: resumed.job },
          })
        }
        if (resumed.kind === 'not-resumable') {
          throw new AppError(
            'CONFLICT',
            `Only a failed or cancelled ${options.label} can be resumed.`,
            {
              details: { job: resumed.job },
            },
          )
        }
        const workerAsked = await deps.kicker.kick()
        deps.log.info(
          { requestId: req.requestId, principal: principal.id, jobId: job.id, workerAsked },
          'backfill resumed',
        )
        return accepted(req, resumed.job, headers)
      },
    },
  ]
}

/**
 * The backfill routes for one kind as one handler (404 for other paths, 405 with `Allow` for other
 * methods).
 * @example
 * createBackfillHandler(deps, { kind: 'backfill-tempo', label: 'Tempo backfill', input: TempoInput,
 *   dedupeKey: () => 'backfill-tempo', rateRule: TEMPO_START_LIMIT })
 */
export function createBackfillHandler<S extends StartSchema>(
  deps: BackfillRoutesDeps,
  options: BackfillRoutesOptions<S>,
): HttpHandler {
  return createRouter(createBackfillRoutes(deps, options), {
    authorize: (req) => deps.auth.requireAdmin(req),
  })
}
