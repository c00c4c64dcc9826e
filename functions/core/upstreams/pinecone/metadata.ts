/**
 * Pinecone metadata rules (upstreams.md §4): values are strings, numbers, booleans or lists of
 * strings; `null` is refused (and loses the whole batch); a record's metadata is at most 40 KB.
 * `cleanMetadata` makes any record conform: it drops what Pinecone refuses and caps strings, so a
 * long description can never push a batch over the limit (original-system defects 23 and 24).
 */

/** A metadata value Pinecone accepts. */
export type MetadataValue = string | number | boolean | string[]

/** Metadata as Pinecone accepts it. */
export type Metadata = Record<string, MetadataValue>

/** Pinecone's limit per record. */
export const METADATA_LIMIT_BYTES = 40 * 1024

export type CleanOptions = {
  /** Characters kept of any one string (default 2000). */
  maxStringChars?: number
  /** Items kept of any one list (default 100). */
  maxListItems?: number
  /** The size the serialised metadata must stay under (default 40 KB less a margin). */
  maxBytes?: number
}

const DEFAULTS = { maxStringChars: 2000, maxListItems: 100, maxBytes: METADATA_LIMIT_BYTES - 1024 }

/** The first `max` characters of `text`, never splitting a surrogate pair. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) {
    return text
  }
  const code = text.charCodeAt(max - 1)
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max
  return text.slice(0, Math.max(0, end))
}

/** The serialised size of metadata in UTF-8 bytes, as Pinecone counts it. */
export function metadataBytes(metadata: Metadata): number {
  return Buffer.byteLength(JSON.stringify(metadata), 'utf8')
}

function cleanValue(value: unknown, options: typeof DEFAULTS): MetadataValue | undefined {
  if (typeof value === 'string') {
    return truncateText(value, options.maxStringChars)
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : undefined
  }
  if (typeof value === 'boolean') {
    return value
  }
  if (Array.isArray(value)) {
    return value
      .filter((item): item is string => typeof item === 'string')
      .slice(0, options.maxListItems)
      .map((item) => truncateText(item, options.maxStringChars))
  }
  // null, undefined, objects: Pinecone refuses them.
  return undefined
}

// Halves the longest string until the whole fits; numbers, booleans and keys are small.
function shrinkToFit(metadata: Metadata, maxBytes: number): Metadata {
  let size = metadataBytes(metadata)
  while (size > maxBytes) {
    const longest = Object.entries(metadata)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
      .sort((a, b) => b[1].length - a[1].length)[0]
    if (!longest || longest[1].length === 0) {
      // Only lists left to shrink: drop the largest one.
      const list = Object.entries(metadata)
        .filter(([, value]) => Array.isArray(value))
        .sort((a, b) => JSON.stringify(b[1]).length - JSON.stringify(a[1]).length)[0]
      if (!list) {
        return metadata
      }
      delete metadata[list[0]]
    } else {
      const [key, text] = longest
      const excess = size - maxBytes
      // Characters may be up to 3 bytes (6 escaped): cut at least the excess, at most half.
      metadata[key] = truncateText(
        text,
        Math.max(0, Math.min(text.length - excess, text.length >> 1)),
      )
    }
    size = metadataBytes(metadata)
  }
  return metadata
}

/**
 * Metadata Pinecone will accept: no null, undefined, non-finite or nested values; strings and
 * lists capped; the whole under 40 KB (the longest strings are cut first).
 * @example cleanMetadata({ title: 'A', assignee: null }) // { title: 'A' }
 */
export function cleanMetadata(
  raw: Readonly<Record<string, unknown>>,
  options: CleanOptions = {},
): Metadata {
  const settings = { ...DEFAULTS, ...options }
  const metadata: Metadata = {}
  for (const [key, value] of Object.entries(raw)) {
    const clean = cleanValue(value, settings)
    if (clean !== undefined) {
      metadata[key] = clean
    }
  }
  return shrinkToFit(metadata, settings.maxBytes)
}
