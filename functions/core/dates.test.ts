import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addDays, daysBetween, isCalendarDate, isoDay } from './dates.ts'

describe('dates', () => {
  it('moves a day across month ends and leap days', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29')
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29')
    expect(addDays('2025-12-31', 1)).toBe('2026-01-01')
    expect(addDays('2026-06-01', -3650)).toBe('2016-06-03')
  })

  it('knows the calendar: leap days, month ends and padding', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true)
    expect(isCalendarDate('2023-02-29')).toBe(false)
    expect(isCalendarDate('2024-04-31')).toBe(false)
    expect(isCalendarDate('2024-1-01')).toBe(false)
    expect(isCalendarDate(' 2024-01-01')).toBe(false)
  })

  it('takes the UTC day of an instant, whatever its time', () => {
    expect(isoDay(new Date('2026-06-01T00:00:00Z'))).toBe('2026-06-01')
    expect(isoDay(Date.parse('2026-06-01T23:59:59.999Z'))).toBe('2026-06-01')
  })

  it('counts back what addDays moved, for any day and distance', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1990-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }),
        fc.integer({ min: -20_000, max: 20_000 }),
        (instant, delta) => {
          const day = isoDay(instant)
          const moved = addDays(day, delta)
          expect(isCalendarDate(moved)).toBe(true)
          expect(daysBetween(day, moved)).toBe(delta)
        },
      ),
    )
  })
})
