// Calendar days as `YYYY-MM-DD` strings in UTC: the backfill ranges, windows and sync days.

/** Milliseconds in a UTC day. */
export const DAY_MS = 86_400_000

const DAY = /^\d{4}-\d{2}-\d{2}$/

/**
 * The UTC day (`YYYY-MM-DD`) of an instant.
 * @example isoDay(new Date('2026-06-01T23:59:59Z')) // '2026-06-01'
 */
export function isoDay(instant: Date | number): string {
  return new Date(instant).toISOString().slice(0, 10)
}

/**
 * `day` (`YYYY-MM-DD`, UTC) moved by `delta` days.
 * @example addDays('2024-02-28', 1) // '2024-02-29'
 */
export function addDays(day: string, delta: number): string {
  return isoDay(Date.parse(`${day}T00:00:00Z`) + delta * DAY_MS)
}

/** Days from `from` to `to` (both `YYYY-MM-DD`); negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS)
}

/** Whether `text` is a zero-padded `YYYY-MM-DD`. */
export function isDayFormat(text: string): boolean {
  return DAY.test(text)
}

/** Whether `text` is a zero-padded `YYYY-MM-DD` that exists in the calendar (no 2024-02-30). */
export function isCalendarDate(text: string): boolean {
  if (!DAY.test(text)) {
    return false
  }
  const ms = Date.parse(`${text}T00:00:00Z`)
  return !Number.isNaN(ms) && isoDay(ms) === text
}
