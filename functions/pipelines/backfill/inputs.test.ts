import fc from 'fast-check'
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { PROJECT_KEY } from '#core/upstreams/jira/jql.ts'
import { parseInput } from '#core/validation/parse.ts'
import { ConfirmDeletions, deletionHeld } from './deletion-brake.ts'
import { DaysBack, MAX_DAYS_BACK, MAX_PROJECTS, ProjectKey, Projects } from './inputs.ts'

const accepts = (schema: v.GenericSchema, input: unknown) => v.safeParse(schema, input).success

// Upper-case keys of Jira's syntax, 1–12 characters.
const aKey = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,11}$/)

describe('backfill request fields', () => {
  describe('happy', () => {
    it('reads days from JSON numbers and from query-string digits alike', () => {
      expect(v.parse(DaysBack, 30)).toBe(30)
      expect(v.parse(DaysBack, ' 3650 ')).toBe(3650)
      expect(v.parse(DaysBack, '00001')).toBe(1)
    })

    it('reads projects from a JSON array or a comma list, each key once', () => {
      expect(v.parse(Projects, ['OPS', 'WEB', 'OPS'])).toEqual(['OPS', 'WEB'])
      expect(v.parse(Projects, ' OPS , DATA_2,OPS')).toEqual(['OPS', 'DATA_2'])
    })
  })

  describe('properties', () => {
    it('accepts exactly the days from 1 to 3650, as numbers or as digits', () => {
      fc.assert(
        // Most draws near the two boundaries, the rest anywhere.
        fc.property(
          fc.oneof(
            fc.integer({ min: -5, max: 5 }),
            fc.integer({ min: MAX_DAYS_BACK - 5, max: MAX_DAYS_BACK + 5 }),
            fc.integer({ min: -20_000, max: 20_000 }),
          ),
          (days) => {
            const valid = days >= 1 && days <= MAX_DAYS_BACK
            expect(accepts(DaysBack, days), String(days)).toBe(valid)
            expect(accepts(DaysBack, String(days)), String(days)).toBe(valid)
          },
        ),
      )
      fc.assert(
        fc.property(fc.double({ noNaN: true }), (days) => {
          expect(accepts(DaysBack, days)).toBe(Number.isInteger(days) && days >= 1 && days <= 3650)
        }),
      )
    })

    it('accepts exactly the keys of Jira’s syntax up to 255 characters', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 300 }), (key) => {
          expect(accepts(ProjectKey, key)).toBe(PROJECT_KEY.test(key) && key.length <= 255)
        }),
      )
      const long = (length: number) => `A${'B'.repeat(length - 1)}`
      expect(accepts(ProjectKey, long(255))).toBe(true)
      expect(accepts(ProjectKey, long(256))).toBe(false)
    })

    it('accepts 1 to 100 keys, and a comma list round-trips to the keys once each', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.array(aKey, { maxLength: 3 }),
            fc.array(aKey, { minLength: MAX_PROJECTS - 2, maxLength: MAX_PROJECTS + 2 }),
            fc.array(aKey, { maxLength: 120 }),
          ),
          (keys) => {
            const valid = keys.length >= 1 && keys.length <= MAX_PROJECTS
            expect(accepts(Projects, keys)).toBe(valid)
            const listed = v.safeParse(Projects, keys.join(','))
            const outcome = listed.success ? listed.output : 'refused'
            expect(outcome).toEqual(valid ? [...new Set(keys)] : 'refused')
          },
        ),
      )
    })

    it('parses any input or refuses it with BAD_REQUEST, never another error', () => {
      const schema = v.strictObject({ days: v.optional(DaysBack), projects: v.optional(Projects) })
      fc.assert(
        fc.property(
          fc.oneof(
            fc.anything(),
            fc.record({ days: fc.anything(), projects: fc.anything() }, { requiredKeys: [] }),
          ),
          (input) => {
            let error: unknown
            try {
              parseInput(schema, input)
            } catch (err) {
              error = err
            }
            expect(
              error === undefined || (error instanceof AppError && error.code === 'BAD_REQUEST'),
            ).toBe(true)
          },
        ),
      )
    })
  })

  describe('confirmDeletions', () => {
    it('is true only for true or "true", false for false or "false", refused otherwise', () => {
      expect(v.parse(ConfirmDeletions, true)).toBe(true)
      expect(v.parse(ConfirmDeletions, 'true')).toBe(true)
      expect(v.parse(ConfirmDeletions, false)).toBe(false)
      expect(v.parse(ConfirmDeletions, 'false')).toBe(false)
      fc.assert(
        fc.property(fc.anything(), (input) => {
          const parsed = v.safeParse(ConfirmDeletions, input)
          const valid = input === true || input === false || input === 'true' || input === 'false'
          return (
            parsed.success === valid &&
            (!parsed.success || parsed.output === (input === true || input === 'true'))
          )
        }),
      )
    })
  })

  describe('deletion brake', () => {
    it('holds more than 20% of a project’s stored records, above 10, unless confirmed', () => {
      expect(deletionHeld(10, 10, false)).toBe(false)
      expect(deletionHeld(11, 55, false)).toBe(false)
      expect(deletionHeld(12, 55, false)).toBe(true)
      expect(deletionHeld(300, 500, true)).toBe(false)
      fc.assert(
        fc.property(fc.nat(10_000), fc.nat(10_000), (gone, stored) => {
          const held = deletionHeld(gone, stored, false)
          return held === (gone > 10 && gone * 5 > stored) && !deletionHeld(gone, stored, true)
        }),
      )
    })
  })
})
