import type { Clock } from '#core/clock.ts'

/** A clock that stands still until moved. */
export function fixedClock(start: Date | string = '2026-06-01T12:00:00.000Z'): Clock & {
  set(date: Date | string): void
  advance(ms: number): void
} {
  let now = new Date(start).getTime()
  return {
    now: () => new Date(now),
    set: (date) => {
      now = new Date(date).getTime()
    },
    advance: (ms) => {
      now += ms
    },
  }
}
