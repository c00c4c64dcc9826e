/**
 * Pinecone's metadata rules ("Pinecone Database limits") and its metadata filter language
 * (`$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or`), as the fake index enforces them.
 */

/** Metadata Pinecone accepts: strings, finite numbers, booleans and lists of strings. */
export type Metadata = Record<string, string | number | boolean | string[]>

const MAX_METADATA_BYTES = 40 * 1024
const COMPARISONS = new Set(['$gt', '$gte', '$lt', '$lte'])
const OPERATORS = new Set(['$eq', '$ne', '$in', '$nin', '$exists', ...COMPARISONS])

type Scalar = string | number | boolean

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function kindOf(value: unknown): string {
  if (value === null) {
    return 'null'
  }
  return Array.isArray(value) ? 'list' : typeof value
}

/** Why `metadata` would be rejected on upsert, or `undefined` when it is valid. */
export function metadataProblem(id: string, metadata: unknown): string | undefined {
  if (!isObject(metadata)) {
    return `Metadata for vector ${id} must be an object, got ${kindOf(metadata)}`
  }
  for (const [field, value] of Object.entries(metadata)) {
    const listOfStrings = Array.isArray(value) && value.every((item) => typeof item === 'string')
    if (!isScalar(value) && !listOfStrings) {
      const got = Array.isArray(value) ? 'list containing non-string values' : kindOf(value)
      return `Metadata value must be a string, number, boolean or list of strings, got '${got}' for field '${field}' of vector ${id}`
    }
  }
  const size = Buffer.byteLength(JSON.stringify(metadata))
  if (size > MAX_METADATA_BYTES) {
    return `Metadata size is ${size} bytes, which exceeds the limit of ${MAX_METADATA_BYTES} bytes per vector (vector ${id})`
  }
  return undefined
}

function operandProblem(field: string, op: string, operand: unknown): string | undefined {
  if (!OPERATORS.has(op)) {
    return `Invalid filter operator '${op}' for field '${field}'`
  }
  if (op === '$exists') {
    return typeof operand === 'boolean'
      ? undefined
      : `$exists for field '${field}' must be a boolean`
  }
  if (COMPARISONS.has(op)) {
    return Number.isFinite(operand) ? undefined : `${op} for field '${field}' must be a number`
  }
  if (op === '$in' || op === '$nin') {
    const valid = Array.isArray(operand) && operand.every(isScalar)
    return valid ? undefined : `${op} for field '${field}' must be a list of values`
  }
  return isScalar(operand)
    ? undefined
    : `${op} for field '${field}' must be a string, number or boolean`
}

/** Why `filter` is not a valid Pinecone filter, or `undefined` when it is. */
export function filterProblem(filter: unknown): string | undefined {
  if (!isObject(filter)) {
    return 'The filter must be an object'
  }
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) {
        return `${key} must be a non-empty list of filters`
      }
      const inner = value.map(filterProblem).find((problem) => problem !== undefined)
      if (inner) {
        return inner
      }
    } else if (key.startsWith('$')) {
      return `Invalid filter operator '${key}' at the top level`
    } else if (isObject(value)) {
      const problems = Object.entries(value).map(([op, operand]) =>
        operandProblem(key, op, operand),
      )
      const problem = problems.find((p) => p !== undefined)
      if (problem || Object.keys(value).length === 0) {
        return problem ?? `The filter for field '${key}' is empty`
      }
    } else if (!isScalar(value)) {
      return `The filter for field '${key}' must be a value or an operator object`
    }
  }
  return undefined
}

function contains(value: unknown, operand: unknown): boolean {
  // A list-valued field matches when any of its items matches.
  return Array.isArray(value) ? value.includes(operand) : value === operand
}

function test(op: string, value: unknown, operand: unknown): boolean {
  switch (op) {
    case '$eq':
      return contains(value, operand)
    case '$ne':
      return !contains(value, operand)
    case '$in':
      return (operand as unknown[]).some((item) => contains(value, item))
    case '$nin':
      return !(operand as unknown[]).some((item) => contains(value, item))
    case '$exists':
      return (value !== undefined) === operand
    default: {
      if (typeof value !== 'number') {
        return false
      }
      const limit = operand as number
      const results: Record<string, boolean> = {
        $gt: value > limit,
        $gte: value >= limit,
        $lt: value < limit,
        $lte: value <= limit,
      }
      return results[op] ?? false
    }
  }
}

/** Whether a record's metadata satisfies a filter already checked by `filterProblem`. */
export function matchesFilter(
  filter: Record<string, unknown>,
  metadata: Metadata | undefined,
): boolean {
  return Object.entries(filter).every(([key, value]) => {
    if (key === '$and') {
      return (value as Array<Record<string, unknown>>).every((f) => matchesFilter(f, metadata))
    }
    if (key === '$or') {
      return (value as Array<Record<string, unknown>>).some((f) => matchesFilter(f, metadata))
    }
    const field = metadata?.[key]
    if (isObject(value)) {
      return Object.entries(value).every(([op, operand]) => test(op, field, operand))
    }
    return test('$eq', field, value)
  })
}
