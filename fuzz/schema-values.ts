// Values from the document's JSON Schemas: valid ones (what the schema admits, boundaries
// included) and hostile ones (just outside a boundary, the wrong type, unknown fields).
import fc from 'fast-check'
import { type Components, resolve, type Schema } from './operations.ts'

const DAY_MS = 86_400_000

/** A calendar day `offset` days from today (UTC), as `YYYY-MM-DD`. */
function dayFromToday(offset: number): string {
  return new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10)
}

// Strings matching the patterns the document uses; other patterns fall back to their length bounds.
function patterned(schema: Schema): fc.Arbitrary<string> | undefined {
  switch (schema.pattern) {
    case '^[A-Z][A-Z0-9_]*$':
      return fc
        .tuple(
          fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
          fc.string({ unit: fc.constantFrom(...'ABCXYZ019_'), maxLength: 9 }),
        )
        .map(([head, tail]) => head + tail)
    case '^[0-9a-f]{16}$':
      return fc.string({
        unit: fc.constantFrom(...'0123456789abcdef'),
        minLength: 16,
        maxLength: 16,
      })
    case '^\\d{4}-\\d{2}-\\d{2}$':
      return fc.integer({ min: -3700, max: 0 }).map(dayFromToday)
    default:
      return undefined
  }
}

/** Values the schema admits, boundaries weighted in. */
export function validValue(schema: Schema, schemas: Components): fc.Arbitrary<unknown> {
  const s = resolve(schema, schemas)
  if (s.enum) {
    return fc.constantFrom(...s.enum)
  }
  if (s.const !== undefined) {
    return fc.constant(s.const)
  }
  const options = s.anyOf ?? s.oneOf
  if (options) {
    return fc.oneof(...options.map((option) => validValue(option, schemas)))
  }
  switch (s.type) {
    case 'integer': {
      const min = s.minimum ?? -1_000_000
      const max = s.maximum ?? 1_000_000
      return fc.oneof(fc.constantFrom(min, max), fc.integer({ min, max }))
    }
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true })
    case 'boolean':
      return fc.boolean()
    case 'string': {
      if (s.format === 'uuid') {
        return fc.uuid()
      }
      return (
        patterned(s) ??
        fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 40) })
      )
    }
    case 'array': {
      const items = validValue(s.items ?? {}, schemas)
      const minLength = s.minItems ?? 0
      return fc.array(items, { minLength, maxLength: Math.min(s.maxItems ?? 5, 5) })
    }
    case 'object':
      return validObject(s, schemas)
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

function validObject(s: Schema, schemas: Components): fc.Arbitrary<Record<string, unknown>> {
  const properties = s.properties ?? {}
  const required = s.required ?? []
  const model = Object.fromEntries(
    Object.entries(properties).map(([name, property]) => [name, validValue(property, schemas)]),
  )
  return (
    fc.record(model, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>>
  ).map((value) => withinRules(s, value))
}

/** The object rules JSON Schema states beside the properties (see below). */
// The object rules JSON Schema states beside the properties: a field whose `dependentRequired`
// partners are missing is dropped, as is the last field of a combination `not` forbids; and two
// dates named `from` and `to` come in order (the Tempo start's description).
export function withinRules(s: Schema, value: Record<string, unknown>): Record<string, unknown> {
  const out = { ...value }
  for (const [field, partners] of Object.entries(s.dependentRequired ?? {})) {
    if (field in out && partners.some((partner) => !(partner in out))) {
      delete out[field]
    }
  }
  for (const forbidden of s.not?.anyOf ?? []) {
    const fields = forbidden.required ?? []
    const last = fields.at(-1)
    if (last !== undefined && fields.every((field) => field in out)) {
      delete out[last]
      for (const [field, partners] of Object.entries(s.dependentRequired ?? {})) {
        if (partners.includes(last)) {
          delete out[field]
        }
      }
    }
  }
  if (typeof out.from === 'string' && typeof out.to === 'string' && out.from > out.to) {
    ;[out.from, out.to] = [out.to, out.from]
  }
  return out
}

/** A value of the wrong type for any schema, or garbage of the right one. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, '', ' ', '0', 'null', [], {}, [[]]),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
)

/** Values just outside (or exactly on) a schema's bounds, and odd spellings of valid ones. */
export function boundaryValue(schema: Schema, schemas: Components): fc.Arbitrary<unknown> {
  const s = resolve(schema, schemas)
  switch (s.type) {
    case 'integer': {
      const min = s.minimum ?? 0
      const max = s.maximum ?? 100
      return fc.constantFrom(
        min - 1,
        max + 1,
        min,
        max,
        min + 0.5,
        -0,
        Number.MAX_SAFE_INTEGER + 2,
        2 ** 53,
        `${max}`,
        `0${min}`,
        `${min}.0`,
        ` ${max}`,
        `${max}e0`,
        '0x10',
        'NaN',
        'Infinity',
        '-1',
        '١٢', // Arabic-Indic digits
      )
    }
    case 'string':
      return fc.oneof(
        fc.constantFrom(
          '',
          ' ',
          '\u0000',
          '\uFEFF',
          '\uD800',
          '%00',
          '../../etc/passwd',
          "' or 1=1 --",
        ),
        fc.string({ minLength: (s.maxLength ?? 64) + 1, maxLength: (s.maxLength ?? 64) + 2 }),
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.constantFrom(
          '2026-02-30',
          '2026-13-01',
          '0000-00-00',
          '9999-12-31',
          '2026-1-1',
          '20260101',
        ),
        fc.constantFrom('abc', 'ABC-1', 'a', '_A', 'A'.repeat(300), 'ÄB', 'ＡＢＣ', 'A B'),
        fc.uuid().map((id) => id.toUpperCase()),
        fc.constantFrom(
          '00000000-0000-0000-0000-000000000000',
          'ffffffff-ffff-ffff-ffff-fffffffffffff',
        ),
      )
    case 'boolean':
      return fc.constantFrom('true', 'false', 1, 0, 'yes', 'TRUE', '', null)
    case 'array':
      return fc.oneof(
        fc.constant([]),
        fc.array(wrongType, { minLength: 1, maxLength: 3 }),
        fc.constant(Array.from({ length: (s.maxItems ?? 100) + 1 }, (_, n) => `P${n}`)),
        fc.constant('A,B'),
      )
    case 'object':
      return fc.oneof(fc.constant([]), fc.constant('{}'), fc.constant(null))
    default:
      return wrongType
  }
}

/** Field names no schema declares, including ones that matter to JavaScript objects. */
export const unknownField: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'id',
    'role',
    'status',
    'kind',
    'admin',
    '',
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
)
