import { describe, expect, it } from 'vitest'
import { paceMs } from './follow.ts'

describe('paceMs', () => {
  it('keeps the minimum interval without a budget, or with plenty of it', () => {
    expect(paceMs(null, 2000)).toBe(2000)
    expect(paceMs({ limit: 1000, remaining: 1000, resetSeconds: 60 }, 2000)).toBe(2000)
  })

  it('spreads what is left of the budget over its window at twice the interval', () => {
    // 199 requests in 3600 s: one every 18.09 s would spend it all; every 37 s spends half.
    expect(paceMs({ limit: 200, remaining: 199, resetSeconds: 3600 }, 2000)).toBe(37_000)
    expect(paceMs({ limit: 200, remaining: 100, resetSeconds: 1000 }, 2000)).toBe(20_000)
  })

  it('waits at most a minute (or the maximum given), also with nothing left', () => {
    expect(paceMs({ limit: 200, remaining: 1, resetSeconds: 3000 }, 2000)).toBe(60_000)
    expect(paceMs({ limit: 200, remaining: 0, resetSeconds: 3000 }, 2000)).toBe(60_000)
    expect(paceMs({ limit: 200, remaining: 199, resetSeconds: 3600 }, 500, 1000)).toBe(1000)
  })
})
