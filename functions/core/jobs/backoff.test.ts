import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffMs, DEFAULT_BACKOFF } from './backoff.ts'

const policy = { baseMs: 1_000, capMs: 30_000, maxRetryAfterMs: 600_000 }

describe('backoff', () => {
  it('doubles per attempt between half and all of each step, up to the cap', () => {
    const low = [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffMs(attempt, policy, () => 0))
    const high = [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffMs(attempt, policy, () => 1))
    expect(low).toEqual([500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000])
    expect(high).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
  })

  it('waits at least as long as an upstream Retry-After, up to its own limit', () => {
    expect(backoffMs(1, policy, () => 0, 45_000)).toBe(45_000)
    expect(backoffMs(6, policy, () => 1, 2_000)).toBe(30_000)
    expect(backoffMs(1, policy, () => 0, 86_400_000)).toBe(600_000)
    expect(backoffMs(1, policy, () => 0, -5)).toBe(500)
  })

  it('stays within [step/2, cap] for any attempt and random value (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 10_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, random) => {
          const delay = backoffMs(attempt, DEFAULT_BACKOFF, () => random)
          const step = Math.min(
            DEFAULT_BACKOFF.capMs,
            DEFAULT_BACKOFF.baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30),
          )
          return Number.isInteger(delay) && delay >= step / 2 && delay <= DEFAULT_BACKOFF.capMs
        },
      ),
    )
  })
})
