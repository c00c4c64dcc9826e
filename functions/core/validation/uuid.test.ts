import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isUuid } from './uuid.ts'

describe('isUuid', () => {
  it('accepts UUIDs in either case', () => {
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        expect(isUuid(id)).toBe(true)
        expect(isUuid(id.toUpperCase())).toBe(true)
      }),
    )
  })

  it('refuses anything with a character more, less or out of place', () => {
    const id = randomUUID()
    for (const text of [
      `${id}0`,
      id.slice(1),
      ` ${id}`,
      id.replace('-', ''),
      id.replace(/^./, 'g'),
      '',
    ]) {
      expect(isUuid(text), text).toBe(false)
    }
  })
})
