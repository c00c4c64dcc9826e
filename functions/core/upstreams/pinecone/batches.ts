/** Pinecone's request limits (upstreams.md §4) and the batching that keeps requests within them. */

/** Inputs per inference `embed` call. */
export const MAX_EMBED_INPUTS = 96
/** Vectors per `upsert`. */
export const MAX_UPSERT_VECTORS = 1000
/** Bytes per `upsert` request. */
export const MAX_UPSERT_BYTES = 2 * 1024 * 1024
/** Ids per `delete`. */
export const MAX_DELETE_IDS = 1000

/** `items` in order, in slices of at most `size`. */
export function inSlices<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError('slice size must be a positive integer')
  }
  const slices: T[][] = []
  for (let start = 0; start < items.length; start += size) {
    slices.push(items.slice(start, start + size))
  }
  return slices
}

/**
 * `items` in order, in as few slices of at most `size` as possible, their lengths within one of
 * each other: 100 items in slices of 96 are 50 + 50, not 96 + 4, so requests sent side by side
 * take about as long as each other.
 */
export function evenSlices<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError('slice size must be a positive integer')
  }
  const count = Math.ceil(items.length / size)
  const slices: T[][] = []
  for (let n = 0, start = 0; n < count; n += 1) {
    const end = start + Math.ceil((items.length - start) / (count - n))
    slices.push(items.slice(start, end))
    start = end
  }
  return slices
}

/**
 * `items` in order, in batches of at most `maxItems` whose `sizeOf` sum stays within `maxBytes`.
 * An item larger than `maxBytes` on its own travels alone (the server then refuses just that one).
 * @example byteBatches(records, (r) => JSON.stringify(r).length, { maxItems: 1000, maxBytes: 2e6 })
 */
export function byteBatches<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  limits: { maxItems: number; maxBytes: number },
): T[][] {
  const batches: T[][] = []
  let current: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = sizeOf(item)
    if (
      current.length > 0 &&
      (current.length >= limits.maxItems || bytes + size > limits.maxBytes)
    ) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += size
  }
  if (current.length > 0) {
    batches.push(current)
  }
  return batches
}

/** The bytes a record adds to an upsert body (its JSON plus a separator). */
export function recordBytes(record: { id: string; values: number[]; metadata?: unknown }): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8') + 1
}
