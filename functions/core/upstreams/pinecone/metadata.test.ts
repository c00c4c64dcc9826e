import fc from 'fast-check'
import { assert, describe, expect, it } from 'vitest'
import { cleanMetadata, METADATA_LIMIT_BYTES, metadataBytes, truncateText } from './metadata.ts'

describe('pinecone metadata', () => {
  it('drops nulls, undefined, non-finite numbers and nested objects; keeps string lists only', () => {
    expect(
      cleanMetadata({
        a: 'x',
        b: null,
        c: undefined,
        d: Number.NaN,
        e: { nested: true },
        f: ['one', 2, null, 'three'],
        g: false,
        h: 0,
      }),
    ).toEqual({ a: 'x', f: ['one', 'three'], g: false, h: 0 })
  })

  it('caps each string and never splits a surrogate pair', () => {
    expect(cleanMetadata({ t: 'y'.repeat(5000) }, { maxStringChars: 10 }).t).toBe('y'.repeat(10))
    expect(truncateText('ab😀cd', 3)).toBe('ab')
    expect(truncateText('ab😀cd', 4)).toBe('ab😀')
  })

  it('cuts the longest strings first until the whole fits in 40 KB', () => {
    const raw: Record<string, unknown> = { issue_key: 'OPS-1', count: 3 }
    for (let n = 0; n < 30; n += 1) {
      raw[`field_${n}`] = 'é'.repeat(2000) // 4 KB each in UTF-8: 120 KB in all
    }
    const clean = cleanMetadata(raw)
    expect(metadataBytes(clean)).toBeLessThanOrEqual(METADATA_LIMIT_BYTES)
    expect(clean).toMatchObject({ issue_key: 'OPS-1', count: 3 })
    expect(Object.keys(clean)).toHaveLength(32)
  })

  it('always fits in 40 KB, with no null values, whatever it is given', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 3000 }),
      fc.string({ unit: 'grapheme', maxLength: 3000 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 500 }), { maxLength: 150 }),
      fc.object(),
    )
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 20 }), value, { maxKeys: 60 }), (raw) => {
        const clean = cleanMetadata(raw)
        expect(metadataBytes(clean)).toBeLessThanOrEqual(METADATA_LIMIT_BYTES)
        for (const item of Object.values(clean)) {
          expect(item).not.toBeNull()
          expect(['string', 'number', 'boolean', 'object']).toContain(typeof item)
          // The only objects left are lists of strings.
          assert(
            typeof item !== 'object' ||
              (Array.isArray(item) && item.every((s) => typeof s === 'string')),
            JSON.stringify(item),
          )
        }
      }),
      { numRuns: 200 },
    )
  })
})
