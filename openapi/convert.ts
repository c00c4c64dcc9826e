// valibot → JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) for the OpenAPI document. Each named
// schema becomes a component and every use of it a `$ref`. A few schemas are written by hand
// (`HandWritten`): the converter gets a union followed by actions wrong, and the query string's
// text forms are no part of what a client sends in JSON.
import { type JsonSchema, toJsonSchemaDefs } from '@valibot/to-json-schema'
import type * as v from 'valibot'

type AnySchema = v.GenericSchema
type Node = { pipe?: unknown[]; options?: unknown[]; item?: unknown; wrapped?: unknown }

/** A component whose JSON Schema is written by hand, and the valibot schema it stands for. */
export type HandWritten = { schema: AnySchema; json: JsonSchema }

/** The path of a component (`#/components/schemas/<name>`). */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })

// Actions JSON Schema cannot say (a predicate, a range across fields): each schema that uses one
// says it in its description, and the document adds what it can by hand (e.g. dependentRequired).
const UNSAYABLE = new Set(['check', 'partial_check'])

// Every schema and action inside a hand-written schema: their conversion is replaced, so their
// conversion errors are expected.
function reachable(node: unknown, seen = new Set<unknown>()): Set<unknown> {
  if (!node || typeof node !== 'object' || seen.has(node)) {
    return seen
  }
  seen.add(node)
  const { pipe, options, item, wrapped } = node as Node
  const entries = (node as { entries?: Record<string, unknown> }).entries
  for (const child of [
    ...(pipe ?? []),
    ...(options ?? []),
    item,
    wrapped,
    ...Object.values(entries ?? {}),
  ]) {
    reachable(child, seen)
  }
  return seen
}

/**
 * The JSON Schema of each named schema, keyed by name, with every use of a named one as a `$ref`
 * to `#/components/schemas/<name>`. Anything else the converter cannot say is an error, so a
 * schema the document would misdescribe stops the build instead of leaving a gap.
 * @throws {Error} naming the construct that could not be converted
 * @example componentSchemas({ SignInBody }, { DaysBack: { schema: DaysBack, json: { type: 'integer' } } })
 */
export function componentSchemas(
  named: Record<string, AnySchema>,
  hand: Record<string, HandWritten> = {},
): Record<string, JsonSchema> {
  const handParts = new Set<unknown>()
  for (const part of Object.values(hand)) {
    reachable(part.schema, handParts)
  }
  const definitions = {
    ...named,
    ...Object.fromEntries(Object.entries(hand).map(([name, part]) => [name, part.schema])),
  }
  const converted = toJsonSchemaDefs(definitions, {
    target: 'draft-2020-12',
    typeMode: 'input', // what a client sends: up to the first transform
    errorMode: 'throw',
    overrideRef: ({ referenceId }) => ref(referenceId).$ref,
    overrideSchema: ({ valibotSchema, jsonSchema, errors }) =>
      errors && handParts.has(valibotSchema) ? { ...jsonSchema } : undefined,
    overrideAction: ({ valibotAction, jsonSchema, errors }) =>
      errors && (handParts.has(valibotAction) || UNSAYABLE.has(valibotAction.type))
        ? { ...jsonSchema }
        : undefined,
  })
  for (const [name, part] of Object.entries(hand)) {
    converted[name] = part.json
  }
  return converted
}

/**
 * The fields of the object schema at the root of `schema`, through pipes and optional wrappers
 * (e.g. the Tempo start: a pipe of an optional strict object and its cross-field checks).
 * @throws {Error} when there is no object schema at the root
 */
export function objectEntries(schema: v.GenericSchema): Record<string, v.GenericSchema> {
  let node: unknown = schema
  while (node && typeof node === 'object') {
    const { entries, pipe, wrapped } = node as Node & { entries?: Record<string, v.GenericSchema> }
    if (entries) {
      return entries
    }
    node = pipe?.[0] ?? wrapped
  }
  throw new Error('The schema has no object at its root.')
}
