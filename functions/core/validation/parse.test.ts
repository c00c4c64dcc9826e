import fc from 'fast-check'
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { parseInput } from './parse.ts'

const Body = v.strictObject({
  credential: v.pipe(v.string(), v.minLength(1), v.maxLength(16)),
  rememberMe: v.optional(v.boolean(), false),
  nested: v.optional(v.strictObject({ days: v.pipe(v.number(), v.integer(), v.maxValue(30)) })),
})

function issuesOf(value: unknown): Array<{ path: string; message: string }> {
  try {
    parseInput(Body, value)
  } catch (err) {
    if (err instanceof AppError && err.code === 'BAD_REQUEST') {
      return (err.details?.issues ?? []) as Array<{ path: string; message: string }>
    }
    throw err
  }
  throw new Error('expected BAD_REQUEST')
}

describe('parseInput', () => {
  describe('happy', () => {
    it('returns the typed output with defaults applied', () => {
      expect(parseInput(Body, { credential: 'abc' })).toEqual({
        credential: 'abc',
        rememberMe: false,
      })
    })
  })

  describe('errors', () => {
    it('lists every problem by field path', () => {
      expect(issuesOf({ credential: '', rememberMe: 'yes', nested: { days: 31.5 } })).toEqual([
        { path: 'credential', message: 'Invalid min length: expected >=1.' },
        { path: 'rememberMe', message: 'Invalid type: expected boolean.' },
        { path: 'nested.days', message: 'Invalid integer.' },
        { path: 'nested.days', message: 'Invalid max value: expected <=30.' },
      ])
    })

    it('says a missing field is required, and an unknown field is unknown', () => {
      expect(issuesOf({ extra: 1 })).toEqual([
        { path: 'credential', message: 'Required.' },
        { path: 'extra', message: 'Unknown field.' },
      ])
    })

    it('refuses a missing body, or one that is not an object, with an empty path', () => {
      expect(issuesOf(undefined)).toEqual([{ path: '', message: 'Required.' }])
      for (const value of [null, 'text', 42, true]) {
        expect(issuesOf(value)).toEqual([{ path: '', message: 'Invalid type: expected Object.' }])
      }
    })
  })

  describe('security', () => {
    it('never echoes an input value in the error', () => {
      const secretish = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.sig-that-is-long'
      const err = (() => {
        try {
          parseInput(Body, { credential: secretish, rememberMe: 'hunter2' })
        } catch (caught) {
          return caught as AppError
        }
        return undefined
      })()
      expect(err).toBeInstanceOf(AppError)
      const text = JSON.stringify({ message: err?.message, details: err?.details })
      expect(text).not.toContain('eyJ')
      expect(text).not.toContain('hunter2')
    })

    it('caps the number of issues and the length of client-chosen keys', () => {
      const long = 'k'.repeat(500)
      const value = Object.fromEntries(Array.from({ length: 50 }, (_, n) => [`${long}${n}`, n]))
      const issues = issuesOf(value)
      expect(issues.length).toBeLessThanOrEqual(20)
      expect(Math.max(...issues.map((issue) => issue.path.length))).toBeLessThanOrEqual(64)
    })

    it('parses any JSON value or throws BAD_REQUEST, never anything else (property)', () => {
      const candidate = fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            credential: fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue()),
            rememberMe: fc.oneof(fc.boolean(), fc.jsonValue()),
            nested: fc.oneof(
              fc.record({ days: fc.oneof(fc.double(), fc.integer()) }),
              fc.jsonValue(),
            ),
          },
          { requiredKeys: [] },
        ),
      )
      fc.assert(
        fc.property(candidate, (value) => {
          try {
            const output = parseInput(Body, value)
            expect(typeof output.credential).toBe('string')
          } catch (err) {
            expect(err).toBeInstanceOf(AppError)
            expect((err as AppError).code).toBe('BAD_REQUEST')
            const issues = (err as AppError).details?.issues as Array<{ message: string }>
            expect(issues.length).toBeGreaterThan(0)
            expect(issues.every((issue) => typeof issue.message === 'string')).toBe(true)
          }
        }),
        { numRuns: 500 },
      )
    })
  })
})
