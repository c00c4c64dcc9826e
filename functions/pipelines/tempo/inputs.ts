import * as v from 'valibot'
import { addDays, daysBetween, isCalendarDate, isDayFormat } from '#core/dates.ts'
import type { RateLimitRule } from '#core/rate-limit/rules.ts'
import { ConfirmDeletions } from '#pipelines/backfill/deletion-brake.ts'
import { DaysBack, MAX_DAYS_BACK, Projects } from '#pipelines/backfill/inputs.ts'

/** Tempo backfill starts (and resumes) per principal: 5 an hour. */
export const TEMPO_START_LIMIT: RateLimitRule = {
  name: 'backfill-tempo-start',
  limit: 5,
  windowSeconds: 3600,
}

/** Days back when a request names neither `days` nor dates. */
export const DEFAULT_DAYS = 365
/** The longest range, in days between `from` and `to` (as long as the largest `days`). */
export const MAX_SPAN_DAYS = MAX_DAYS_BACK

const Day = v.pipe(
  v.string(),
  v.check(isDayFormat, 'Use YYYY-MM-DD, zero-padded.'),
  // Only for a well-formed date: `2024-1-1` gets the format message alone.
  v.check((text) => !isDayFormat(text) || isCalendarDate(text), 'Not a date in the calendar.'),
)

// The range checks compare two real dates; a malformed one already has its own message.
function bothDates(i: {
  from?: string | undefined
  to?: string | undefined
}): i is { from: string; to: string } {
  return (
    i.from !== undefined && i.to !== undefined && isCalendarDate(i.from) && isCalendarDate(i.to)
  )
}

/**
 * The body (or query) of `POST v1/backfill-tempo` against `today()` (UTC `YYYY-MM-DD`, read from
 * the injected clock at each validation): either `days` (1–3650, default 365:
 * `today − days`..`today`) or both `from` and `to` (real calendar dates, not after today,
 * `to` ≥ `from`, at most 3650 days apart); optional `projects` (≤ 100 Jira keys). Every problem
 * names its field. Its output, the range resolved to dates, is the `backfill-tempo` job's params.
 * @example parseInput(tempoBackfillInput(() => '2026-06-01'), { from: '2026-01-01', to: '2026-01-31' })
 */
export function tempoBackfillInput(today: () => string) {
  return v.pipe(
    // An empty POST has no body at all: the defaults apply.
    v.optional(
      v.strictObject({
        /** days back from today, 1–3650 */
        days: v.optional(DaysBack),
        /** first day, YYYY-MM-DD, inclusive */
        from: v.optional(Day),
        /** last day, YYYY-MM-DD, inclusive */
        to: v.optional(Day),
        /** Jira project keys; default: the active projects */
        projects: v.optional(Projects),
        /** let deletions over the brake's share through (`true`/`false`, default false) */
        confirmDeletions: v.optional(ConfirmDeletions),
      }),
      {},
    ),
    v.forward(
      v.partialCheck(
        [['from'], ['to']],
        (i) => i.to !== undefined || i.from === undefined,
        'Send to with from.',
      ),
      ['to'],
    ),
    v.forward(
      v.partialCheck(
        [['from'], ['to']],
        (i) => i.from !== undefined || i.to === undefined,
        'Send from with to.',
      ),
      ['from'],
    ),
    v.forward(
      v.partialCheck(
        [['days'], ['from'], ['to']],
        (i) => i.days === undefined || (i.from === undefined && i.to === undefined),
        'Send either days or from and to, not both.',
      ),
      ['days'],
    ),
    v.forward(
      v.partialCheck(
        [['from']],
        (i) => i.from === undefined || !isCalendarDate(i.from) || i.from <= today(),
        'Must not be after today (UTC).',
      ),
      ['from'],
    ),
    v.forward(
      v.partialCheck(
        [['to']],
        (i) => i.to === undefined || !isCalendarDate(i.to) || i.to <= today(),
        'Must not be after today (UTC).',
      ),
      ['to'],
    ),
    v.forward(
      v.partialCheck(
        [['from'], ['to']],
        (i) => !bothDates(i) || i.to >= i.from,
        'Must be on or after from.',
      ),
      ['to'],
    ),
    v.forward(
      v.partialCheck(
        [['from'], ['to']],
        (i) => !bothDates(i) || daysBetween(i.from, i.to) <= MAX_SPAN_DAYS,
        `The range may span at most ${MAX_SPAN_DAYS} days.`,
      ),
      ['from'],
    ),
    v.transform((input): TempoBackfillInput => {
      const { projects } = input
      const extra = {
        ...(projects && { projects }),
        ...(input.confirmDeletions && { confirmDeletions: true }),
      }
      if (input.from !== undefined && input.to !== undefined) {
        return { from: input.from, to: input.to, ...extra }
      }
      const days = input.days ?? DEFAULT_DAYS
      const last = today()
      return { from: addDays(last, -days), to: last, days, ...extra }
    }),
  )
}

/** A Tempo backfill request resolved to dates: `from`..`to` inclusive, in UTC. */
export type TempoBackfillInput = {
  from: string
  to: string
  /** the `days` sent or defaulted, when the range came from it */
  days?: number
  projects?: string[]
  /** deletions over the brake's share may go */
  confirmDeletions?: boolean
}
