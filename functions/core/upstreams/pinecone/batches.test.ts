import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { byteBatches, evenSlices, inSlices } from './batches.ts'

describe('pinecone batches', () => {
  it('slices in order with no slice over its size', () => {
    expect(inSlices([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]])
    expect(() => inSlices([1], 0)).toThrow(RangeError)
  })

  it('slices evenly: as few slices as the size allows, lengths within one of each other, in order', () => {
    const lengths = (n: number, size: number) =>
      evenSlices(
        Array.from({ length: n }, (_, i) => i),
        size,
      ).map((slice) => slice.length)
    expect(lengths(100, 96)).toEqual([50, 50])
    expect(lengths(96, 96)).toEqual([96])
    expect(lengths(97, 96)).toEqual([49, 48])
    expect(lengths(200, 96)).toEqual([67, 67, 66])
    expect(lengths(0, 96)).toEqual([])
    expect(() => evenSlices([1], 0)).toThrow(RangeError)
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { maxLength: 400 }),
        fc.integer({ min: 1, max: 120 }),
        (items, size) => {
          const slices = evenSlices(items, size)
          expect(slices.flat()).toEqual(items)
          expect(slices).toHaveLength(Math.ceil(items.length / size))
          const sizes = slices.map((slice) => slice.length)
          for (const length of sizes) {
            expect(length).toBeGreaterThan(0)
            expect(length).toBeLessThanOrEqual(size)
          }
          if (sizes.length > 0) {
            expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
          }
        },
      ),
    )
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
