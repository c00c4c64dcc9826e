import * as v from 'valibot'

const TempoId = v.pipe(v.number(), v.integer(), v.minValue(1))
const Day = v.pipe(v.string(), v.regex(/^\d{4}-\d{2}-\d{2}$/))

/**
 * One worklog of `GET /4/worklogs` as Tempo v4 sends it (reference upstreams §3): numeric ids, no
 * issue key, project or author name. Only the fields the pipeline reads are checked.
 */
export const WorklogJson = v.object({
  tempoWorklogId: TempoId,
  issue: v.object({ id: TempoId }),
  /** seconds, ≥ 0 */
  timeSpentSeconds: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** yyyy-MM-dd */
  startDate: Day,
  /** HH:mm:ss (HH:mm accepted) */
  startTime: v.nullish(v.pipe(v.string(), v.regex(/^\d{2}:\d{2}(:\d{2})?$/))),
  description: v.nullish(v.string()),
  /** ISO 8601 (Tempo's form: `2025-01-06T10:02:11Z`); read leniently, it is informational */
  updatedAt: v.nullish(v.string()),
  author: v.object({
    accountId: v.pipe(v.string(), v.nonEmpty()),
    // v4 normally sends neither; v3 and some tenants did.
    email: v.nullish(v.string()),
    emailAddress: v.nullish(v.string()),
  }),
})

/** Just the id of an item that failed `WorklogJson`, to keep and report that worklog. */
export const WorklogIdJson = v.object({ tempoWorklogId: TempoId })

/** The envelope of a worklog page; items are checked one by one (`WorklogJson`). */
export const WorklogPageJson = v.object({
  metadata: v.object({
    count: v.optional(v.number()),
    offset: v.optional(v.number()),
    limit: v.optional(v.number()),
    /** absolute URL of the next page; absent on the last */
    next: v.nullish(v.pipe(v.string(), v.url())),
  }),
  results: v.array(v.unknown()),
})
