// The API's answers as valibot schemas, for the OpenAPI document (openapi/document.ts). The
// functions build these bodies from TypeScript types; the checks at the bottom of this file make
// `tsc` fail when a schema and the type it describes part ways.
import * as v from 'valibot'
import { type ErrorBody, type ErrorCode, STATUS_BY_CODE } from '#core/errors.ts'
import type { CheckReport } from '#core/health/checks.ts'
import type { JobView } from '#core/jobs/job-view.ts'
import { JOB_STATUSES } from '#db/schema.ts'
import type { UserView } from '../functions/v1/login/handler.ts'

/** Every client-visible error code, in the order of the functions' own table. */
export const ERROR_CODES = Object.keys(STATUS_BY_CODE) as ErrorCode[]

const time = v.pipe(v.string(), v.isoTimestamp(), v.description('ISO 8601, UTC'))
const count = v.pipe(v.number(), v.integer(), v.minValue(0))
const uuid = v.pipe(v.string(), v.uuid())

export const JobStatus = v.pipe(
  v.picklist(JOB_STATUSES),
  v.description('queued → running → succeeded | failed | cancelled'),
)

export const JobProgress = v.object({
  chunksTotal: count,
  chunksDone: v.pipe(count, v.description('chunks that succeeded')),
  chunksFailed: count,
  itemsFetched: count,
  itemsWritten: count,
  itemsFailed: count,
  ratePerSecond: v.pipe(
    v.nullable(v.number()),
    v.description('items written per second since the start; null before it'),
  ),
  etaSeconds: v.pipe(
    v.nullable(count),
    v.description('remaining chunks × the mean time per finished chunk; null when unknown'),
  ),
  lastError: v.pipe(
    v.nullable(v.string()),
    v.description('the latest error of any chunk, a sentence for a person'),
  ),
  warnings: v.pipe(
    v.array(v.string()),
    v.description(
      'outcomes that need a decision, one per chunk (e.g. deletions held back by the brake)',
    ),
  ),
})

export const Job = v.object({
  id: uuid,
  kind: v.pipe(v.string(), v.description('backfill-jira, backfill-tempo, …')),
  status: JobStatus,
  params: v.pipe(
    v.record(v.string(), v.unknown()),
    v.description("the start's input as validated (Tempo: the range resolved to dates)"),
  ),
  createdAt: time,
  startedAt: v.nullable(time),
  finishedAt: v.nullable(time),
  cancelRequested: v.boolean(),
  progress: JobProgress,
})

export const JobAccepted = v.object({
  job: Job,
  url: v.pipe(v.string(), v.description("the job's own URL (also in Location)")),
})

export const JobShown = v.object({
  job: Job,
  version: v.pipe(
    v.string(),
    v.regex(/^[0-9a-f]{16}$/),
    v.description(
      'a stamp of what a follower sees change; pass it as `since` to wait for the next',
    ),
  ),
})

export const JobList = v.object({ jobs: v.array(Job) })

export const Role = v.picklist(['no_access', 'member', 'admin'])

export const User = v.object({
  id: uuid,
  email: v.pipe(v.string(), v.email()),
  name: v.string(),
  role: Role,
  isActive: v.boolean(),
  lastLoginAt: v.nullable(time),
  createdAt: time,
})

export const Session = v.object({
  token: v.pipe(v.string(), v.description('send as `Authorization: Bearer <token>`')),
  expiresAt: time,
  user: User,
})

export const Me = v.object({ user: User })

export const ErrorEnvelope = v.object({
  error: v.object({
    code: v.pipe(v.picklist(ERROR_CODES), v.description('branch on this, never on the message')),
    message: v.pipe(v.string(), v.description('one sentence for a person')),
    requestId: v.pipe(v.string(), v.description('quote it: every log line carries it')),
    details: v.exactOptional(
      v.pipe(
        v.record(v.string(), v.unknown()),
        v.description(
          '4xx only: `issues` [{path, message}] for 400, `job` for 409, `retryAfterSeconds` for 429',
        ),
      ),
    ),
  }),
})

export const Health = v.object({
  status: v.literal('ok'),
  version: v.string(),
  time,
})

export const CheckReportSchema = v.object({
  status: v.picklist(['pass', 'fail']),
  latencyMs: count,
  details: v.exactOptional(
    v.pipe(v.record(v.string(), v.unknown()), v.description('for admins only')),
  ),
})

export const DeepHealth = v.object({
  status: v.picklist(['ok', 'degraded']),
  version: v.string(),
  time,
  checks: v.pipe(
    v.record(v.string(), CheckReportSchema),
    v.description('database, migrations, rateLimit, pinecone, queue'),
  ),
})

// Each schema against the type the functions answer with: mutual assignability, so a field added,
// dropped or retyped on either side fails `npm run check`.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Out<S extends v.GenericSchema> = v.InferOutput<S>
const agree = <T extends true>(): T | undefined => undefined

agree<Same<Omit<Out<typeof Job>, 'params'>, Omit<JobView, 'params'>>>()
agree<Same<Out<typeof User>, UserView>>()
agree<Same<Out<typeof ErrorEnvelope>, ErrorBody>>()
agree<Same<Out<typeof CheckReportSchema>, CheckReport>>()
