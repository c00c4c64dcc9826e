import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { byteBatches, inSlices } from './batches.ts'

describe('pinecone batches', () => {
  it('slices in order with no slice over its size', () => {
    expect(inSlices([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]])
    expect(() => inSlices([1], 0)).toThrow(RangeError)
  })

  it('never exceeds the item or byte limit, keeps order, and loses nothing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 500, max: 3000 }),
        (sizes, maxItems, maxBytes) => {
          const batches = byteBatches(sizes, (size) => size, { maxItems, maxBytes })
          expect(batches.flat()).toEqual(sizes)
          for (const batch of batches) {
            expect(batch.length).toBeGreaterThan(0)
            expect(batch.length).toBeLessThanOrEqual(maxItems)
            expect(batch.reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(maxBytes)
          }
        },
      ),
    )
  })

  it('sends an oversized item alone rather than dropping it', () => {
    expect(byteBatches([10, 5000, 10], (n) => n, { maxItems: 10, maxBytes: 100 })).toEqual([
      [10],
      [5000],
      [10],
    ])
  })

  it('cuts at 1000 vectors when they are small', () => {
    const batches = byteBatches(
      Array.from({ length: 2500 }, () => 1),
      (n) => n,
      {
        maxItems: 1000,
        maxBytes: 2 * 1024 * 1024,
      },
    )
    expect(batches.map((batch) => batch.length)).toEqual([1000, 1000, 500])
  })
})
