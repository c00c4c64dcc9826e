import { describe, expect, it } from 'vitest'
import { PACE_BUDGETS } from './pace-budgets.ts'

describe('pace budgets', () => {
  it('budgets Tempo below its gateway limit of 5 per second', () => {
    expect(PACE_BUDGETS.tempo.limit / (PACE_BUDGETS.tempo.windowMs / 1000)).toBeLessThan(5)
  })
})
