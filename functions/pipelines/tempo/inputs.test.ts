import fc from 'fast-check'
import * as v from 'valibot'
import { assert, describe, expect, it } from 'vitest'
import { addDays, daysBetween, isCalendarDate } from '#core/dates.ts'
import { AppError } from '#core/errors.ts'
import { parseInput } from '#core/validation/parse.ts'
import { DEFAULT_DAYS, MAX_SPAN_DAYS, tempoBackfillInput } from './inputs.ts'

const TODAY = '2026-06-01'

function parse(body: unknown, today = TODAY) {
  return parseInput(
    tempoBackfillInput(() => today),
    body,
  )
}

function issuesOf(body: unknown, today = TODAY): Array<{ path: string; message: string }> {
  try {
    parse(body, today)
  } catch (err) {
    if (err instanceof AppError && err.code === 'BAD_REQUEST') {
      return (err.details?.issues ?? []) as Array<{ path: string; message: string }>
    }
    throw err
  }
  return []
}

// Any day from 1990 to 2100, as YYYY-MM-DD.
const aDay = fc
  .integer({ min: Date.UTC(1990, 0, 1) / 86_400_000, max: Date.UTC(2100, 0, 1) / 86_400_000 })
  .map((n) => new Date(n * 86_400_000).toISOString().slice(0, 10))

describe('tempo backfill date range', () => {
  describe('happy', () => {
    it('defaults to the last 365 days up to today', () => {
      expect(parse(undefined)).toEqual({ from: '2025-06-01', to: TODAY, days: DEFAULT_DAYS })
      expect(parse({})).toEqual({ from: '2025-06-01', to: TODAY, days: 365 })
    })

    it('takes days as a number or as digits from the query string', () => {
      expect(parse({ days: 1 })).toEqual({ from: '2026-05-31', to: TODAY, days: 1 })
      expect(parse({ days: '3650' })).toEqual({
        from: addDays(TODAY, -3650),
        to: TODAY,
        days: 3650,
      })
    })

    it('takes both dates, a single day and today included', () => {
      expect(parse({ from: '2024-02-29', to: TODAY })).toEqual({ from: '2024-02-29', to: TODAY })
      expect(parse({ from: TODAY, to: TODAY })).toEqual({ from: TODAY, to: TODAY })
    })

    it('keeps named projects once each', () => {
      expect(parse({ days: 7, projects: ['OPS', 'DATA_2', 'OPS'] }).projects).toEqual([
        'OPS',
        'DATA_2',
      ])
    })
  })

  describe('errors', () => {
    it.each([
      ['unpadded dates', { from: '2024-1-1', to: '2024-01-31' }, 'from'],
      ['an impossible date', { from: '2024-02-01', to: '2024-02-30' }, 'to'],
      ['tomorrow', { from: '2026-05-01', to: '2026-06-02' }, 'to'],
      ['a start after today', { from: '2026-06-02', to: '2026-06-02' }, 'from'],
      ['a reversed range', { from: '2026-03-02', to: '2026-03-01' }, 'to'],
      ['only from', { from: '2026-03-01' }, 'to'],
      ['only to', { to: '2026-03-01' }, 'from'],
      ['days with dates', { days: 30, from: '2026-03-01', to: '2026-03-02' }, 'days'],
      ['non-numeric days', { days: 'ten' }, 'days'],
      ['fractional days', { days: 1.5 }, 'days'],
      ['zero days', { days: 0 }, 'days'],
      ['too many days', { days: 3651 }, 'days'],
      ['a span over 3650 days', { from: '2016-05-31', to: '2026-06-01' }, 'from'],
      ['an unknown field', { days: 3, batch_id: 'x' }, 'batch_id'],
      ['a bad project key', { projects: ['ops'] }, 'projects.0'],
      ['a date that is not a string', { from: 20_240_101, to: '2024-01-31' }, 'from'],
    ])('refuses %s, naming the field', (_name, body, field) => {
      const issues = issuesOf(body)
      expect(
        issues.map((issue) => issue.path),
        JSON.stringify(issues),
      ).toContain(field)
    })

    it('never echoes the input in its messages', () => {
      const issues = issuesOf({ from: 'secret-ish-value', to: 'another-one', days: 'eyJhbGciOi' })
      expect(JSON.stringify(issues)).not.toMatch(/secret-ish|another-one|eyJhbGciOi/)
    })
  })

  describe('properties', () => {
    it('accepts exactly the ranges that end by today, run forwards and span ≤ 3650 days', () => {
      fc.assert(
        fc.property(
          aDay,
          fc.integer({ min: -10, max: 4000 }),
          fc.integer({ min: -5, max: 5 }),
          (today, back, ahead) => {
            const from = addDays(today, -back)
            const to = addDays(today, ahead)
            const valid = from <= to && to <= today && daysBetween(from, to) <= MAX_SPAN_DAYS
            const issues = issuesOf({ from, to }, today)
            expect(issues.length === 0, JSON.stringify({ today, from, to, issues })).toBe(valid)
            if (valid) {
              expect(parse({ from, to }, today)).toEqual({ from, to })
            }
          },
        ),
        { numRuns: 500 },
      )
    })

    it('accepts exactly the days from 1 to 3650', () => {
      fc.assert(
        fc.property(aDay, fc.integer({ min: -100, max: 5000 }), (today, days) => {
          const valid = days >= 1 && days <= MAX_SPAN_DAYS
          expect(issuesOf({ days }, today).length === 0).toBe(valid)
          if (valid) {
            const range = parse({ days }, today)
            expect(daysBetween(range.from, range.to)).toBe(days)
            expect(range.to).toBe(today)
          }
        }),
      )
    })

    it('parses any input or refuses it with BAD_REQUEST, never another error', () => {
      const field = fc.oneof(
        fc.string(),
        aDay,
        fc.integer(),
        fc.double(),
        fc.constant(null),
        fc.anything(),
      )
      const body = fc.oneof(
        fc.anything(),
        fc.record({ days: field, from: field, to: field, projects: field }, { requiredKeys: [] }),
      )
      fc.assert(
        fc.property(body, (input) => {
          try {
            const range = parse(input)
            expect(isCalendarDate(range.from) && isCalendarDate(range.to)).toBe(true)
          } catch (err) {
            expect(err).toBeInstanceOf(AppError)
            expect((err as AppError).code).toBe('BAD_REQUEST')
          }
        }),
        { numRuns: 500 },
      )
    })
  })
})

describe('one message per mistake', () => {
  it('answers a malformed date with its format message alone', () => {
    const result = v.safeParse(
      tempoBackfillInput(() => '2026-06-01'),
      {
        from: '2026-1-1',
        to: '2026-03-31',
      },
    )
    assert(!result.success)
    expect(result.issues.map((issue) => [v.getDotPath(issue), issue.message])).toEqual([
      ['from', 'Use YYYY-MM-DD, zero-padded.'],
    ])
  })
})
