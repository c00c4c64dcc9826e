import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { seededRandom } from '#sandbox/fakes/server.ts'
import { CHANGE_KINDS } from './changes.ts'
import { drawSchedule } from './run.ts'

describe('drawSchedule', () => {
  it('draws the same schedule from the same seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        expect(drawSchedule(seededRandom(seed), 60_000)).toEqual(
          drawSchedule(seededRandom(seed), 60_000),
        )
      }),
      { numRuns: 30 },
    )
  })

  it('puts every kind of event and of change into a one-minute run, inside its minute', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const events = drawSchedule(seededRandom(seed), 60_000)
        const count = (kind: string) => events.filter((event) => event.kind === kind).length
        expect(count('restart-postgres')).toBe(1)
        expect(count('kill-worker')).toBe(2)
        expect(count('daily-sync')).toBe(1)
        expect(count('client')).toBe(30)
        expect(count('change')).toBe(24)
        const changes = new Set(events.map((event) => event.change).filter(Boolean))
        expect([...changes].sort()).toEqual([...CHANGE_KINDS].sort())
        for (const event of events) {
          expect(event.at).toBeGreaterThanOrEqual(3_000)
          expect(event.at).toBeLessThanOrEqual(54_000)
        }
      }),
      { numRuns: 30 },
    )
  })

  it('scales with the run: a 30-minute run restarts PostgreSQL 10 times', () => {
    const events = drawSchedule(seededRandom(5), 30 * 60_000)
    expect(events.filter((event) => event.kind === 'restart-postgres')).toHaveLength(10)
    expect(events.filter((event) => event.kind === 'kill-worker')).toHaveLength(40)
  })
})
