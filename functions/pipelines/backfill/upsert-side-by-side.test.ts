import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { PineconeDocument } from '#core/upstreams/pinecone/client.ts'
import { evenSlices, upsertSideBySide } from './upsert-side-by-side.ts'

const doc = (n: number): PineconeDocument => ({ id: `d-${n}`, text: `t${n}`, metadata: {} })

describe('evenSlices', () => {
  it('keeps every item in order, in the fewest slices of at most max, sizes within one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { maxLength: 500 }),
        fc.integer({ min: 1, max: 120 }),
        (items, max) => {
          const slices = evenSlices(items, max)
          expect(slices.flat()).toEqual(items)
          expect(slices).toHaveLength(Math.ceil(items.length / max))
          const sizes = slices.map((s) => s.length)
          for (const size of sizes) {
            expect(size).toBeGreaterThan(0)
            expect(size).toBeLessThanOrEqual(max)
            expect(Math.max(...sizes) - size).toBeLessThanOrEqual(1)
          }
        },
      ),
    )
  })

  it('splits a page of 100 into 50 and 50, and 96 into one slice', () => {
    expect(
      evenSlices(
        Array.from({ length: 100 }, (_, n) => n),
        96,
      ).map((s) => s.length),
    ).toEqual([50, 50])
    expect(
      evenSlices(
        Array.from({ length: 96 }, (_, n) => n),
        96,
      ).map((s) => s.length),
    ).toEqual([96])
    expect(evenSlices([], 96)).toEqual([])
  })
})

describe('upsertSideBySide', () => {
  describe('happy', () => {
    it('sends the slices at once and sums what they wrote', async () => {
      const calls: string[][] = []
      let open = 0
      let most = 0
      const sink = {
        async upsertDocuments(docs: readonly PineconeDocument[]) {
          calls.push(docs.map((d) => d.id))
          open += 1
          most = Math.max(most, open)
          await new Promise((resolve) => setImmediate(resolve))
          open -= 1
          return { ok: true as const, written: docs.length }
        },
      }
      const docs = Array.from({ length: 200 }, (_, n) => doc(n))
      expect(await upsertSideBySide(sink, docs)).toEqual({ ok: true, written: 200 })
      expect(calls.map((c) => c.length)).toEqual([67, 67, 66])
      expect(calls.flat()).toEqual(docs.map((d) => d.id))
      expect(most).toBe(3)
    })
  })

  describe('errors', () => {
    it('answers the first failure when a slice fails', async () => {
      const failure = { ok: false as const, reason: 'rate-limited' as const, message: 'slow down' }
      const sink = {
        async upsertDocuments(docs: readonly PineconeDocument[]) {
          return docs[0]?.id === 'd-50' ? failure : { ok: true as const, written: docs.length }
        },
      }
      const docs = Array.from({ length: 100 }, (_, n) => doc(n))
      expect(await upsertSideBySide(sink, docs)).toEqual(failure)
    })
  })
})
