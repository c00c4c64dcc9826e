import { filterProblem, type Metadata, matchesFilter, metadataProblem } from './pinecone-filter.ts'
import type { FakeResponse, RecordedRequest } from './server.ts'

/** A stored record. */
export type FakeVector = {
  id: string
  values: number[]
  sparseValues?: { indices: number[]; values: number[] }
  metadata?: Metadata
}

/** The v8 client sends `__default__` for the default namespace; older callers send `''` or nothing. */
export const DEFAULT_NAMESPACE = '__default__'

const MAX_UPSERT_VECTORS = 1000
const MAX_UPSERT_BYTES = 2 * 1024 * 1024
const MAX_IDS = 1000
const MAX_LIST_LIMIT = 100
const MAX_TOP_K = 10_000
const MAX_ID_LENGTH = 512

/** The data plane's error body: `{ code, message, details }` with a gRPC code (3 = INVALID_ARGUMENT). */
export function dataError(status: number, message: string): FakeResponse {
  const code = status === 404 ? 5 : 3
  return { status, body: { code, message, details: [] } }
}

/** `''` and a missing namespace are the default namespace, as on Pinecone. */
export function namespaceOf(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : DEFAULT_NAMESPACE
}

function bodyOf(req: RecordedRequest): Record<string, unknown> | undefined {
  const body = req.body
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

function cosine(a: number[], b: number[]): number {
  let dot = 0
  let normA = 0
  let normB = 0
  for (let n = 0; n < a.length; n += 1) {
    const x = a[n] ?? 0
    const y = b[n] ?? 0
    dot += x * y
    normA += x * x
    normB += y * y
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB)
}

/** A deep copy, so callers never share a stored record. */
export function copyVector(vector: FakeVector): FakeVector {
  return structuredClone(vector)
}

/** One namespace's records, created on first use (Pinecone creates namespaces on upsert). */
export function namespaceIn(
  store: Map<string, Map<string, FakeVector>>,
  namespace: string,
): Map<string, FakeVector> {
  let found = store.get(namespace)
  if (!found) {
    found = new Map()
    store.set(namespace, found)
  }
  return found
}

/**
 * The index host's routes (`/vectors/*`, `/query`, `/describe_index_stats`) over `store`
 * (namespace → id → record). Keys on the wire are camelCase, as the v8 client sends and reads them.
 */
export function createIndexRoutes(store: Map<string, Map<string, FakeVector>>, dimension: number) {
  const space = (namespace: string) => namespaceIn(store, namespace)
  // The ids of a namespace in byte order, kept while its record map and size are unchanged and no
  // write happened through these routes, so listing a large namespace page by page stays cheap.
  const sorted = new Map<string, { of: Map<string, FakeVector>; size: number; ids: string[] }>()
  function sortedIds(namespace: string): string[] {
    const records = store.get(namespace) ?? new Map<string, FakeVector>()
    const cached = sorted.get(namespace)
    if (cached && cached.of === records && cached.size === records.size) {
      return cached.ids
    }
    const ids = [...records.keys()].sort(byteOrder)
    sorted.set(namespace, { of: records, size: records.size, ids })
    return ids
  }
  // First index in `ids` (byte order) of an id after `bound` (or at it, when `inclusive`).
  function firstAfter(ids: string[], bound: string, inclusive = false): number {
    let low = 0
    let high = ids.length
    while (low < high) {
      const middle = (low + high) >> 1
      const order = byteOrder(ids[middle] ?? '', bound)
      if (order < 0 || (order === 0 && !inclusive)) {
        low = middle + 1
      } else {
        high = middle
      }
    }
    return low
  }

  function vectorProblem(raw: unknown): string | undefined {
    const vector = raw as Partial<FakeVector> | null
    if (typeof vector?.id !== 'string' || vector.id === '' || vector.id.length > MAX_ID_LENGTH) {
      return `Vector id must be a string of 1 to ${MAX_ID_LENGTH} characters`
    }
    if (!Array.isArray(vector.values) || !vector.values.every((v) => Number.isFinite(v))) {
      return `Vector ${vector.id} must have values, a list of numbers`
    }
    if (vector.values.length !== dimension) {
      return `Vector dimension ${vector.values.length} does not match the dimension of the index ${dimension}`
    }
    return vector.metadata === undefined ? undefined : metadataProblem(vector.id, vector.metadata)
  }

  function upsert(req: RecordedRequest): FakeResponse {
    const size = Buffer.byteLength(req.rawBody)
    if (size > MAX_UPSERT_BYTES) {
      const mb = (size / 1024 / 1024).toFixed(1)
      return dataError(400, `Request size ${mb}MB exceeds the maximum supported size of 2MB`)
    }
    const body = bodyOf(req)
    if (!body || !Array.isArray(body.vectors)) {
      return dataError(400, 'vectors is required: a list of { id, values, metadata? }')
    }
    if (body.vectors.length > MAX_UPSERT_VECTORS) {
      return dataError(
        400,
        `Upsert request contains ${body.vectors.length} vectors; the maximum is ${MAX_UPSERT_VECTORS}`,
      )
    }
    const problem = body.vectors.map(vectorProblem).find((p) => p !== undefined)
    if (problem) {
      return dataError(400, problem)
    }
    const target = space(namespaceOf(body.namespace))
    sorted.delete(namespaceOf(body.namespace))
    for (const vector of body.vectors as FakeVector[]) {
      const { id, values, sparseValues, metadata } = vector
      target.set(
        id,
        copyVector({
          id,
          values,
          ...(sparseValues && { sparseValues }),
          ...(metadata && { metadata }),
        }),
      )
    }
    return { status: 200, body: { upsertedCount: body.vectors.length } }
  }

  function remove(req: RecordedRequest): FakeResponse {
    const body = bodyOf(req) ?? {}
    const { ids, deleteAll, filter } = body
    const modes = [ids !== undefined, deleteAll === true, filter !== undefined].filter(Boolean)
    if (modes.length !== 1) {
      return dataError(400, 'Exactly one of ids, deleteAll or filter must be given')
    }
    const target = space(namespaceOf(body.namespace))
    sorted.delete(namespaceOf(body.namespace))
    if (ids !== undefined) {
      if (
        !Array.isArray(ids) ||
        ids.length > MAX_IDS ||
        !ids.every((id) => typeof id === 'string')
      ) {
        return dataError(400, `ids must be a list of at most ${MAX_IDS} strings`)
      }
      for (const id of ids) {
        target.delete(id)
      }
    } else if (deleteAll === true) {
      target.clear()
    } else {
      const problem = filterProblem(filter)
      if (problem) {
        return dataError(400, problem)
      }
      for (const [id, vector] of target) {
        if (matchesFilter(filter as Record<string, unknown>, vector.metadata)) {
          target.delete(id)
        }
      }
    }
    return { status: 200, body: {} }
  }

  function stats(req: RecordedRequest): FakeResponse {
    if (bodyOf(req)?.filter !== undefined) {
      return dataError(400, 'describe_index_stats does not support a filter on serverless indexes')
    }
    const namespaces: Record<string, { vectorCount: number }> = {}
    let total = 0
    for (const [name, vectors] of store) {
      if (vectors.size > 0) {
        namespaces[name] = { vectorCount: vectors.size }
        total += vectors.size
      }
    }
    const body = {
      namespaces,
      dimension,
      indexFullness: 0,
      totalVectorCount: total,
      metric: 'cosine',
      vectorType: 'dense',
    }
    return { status: 200, body }
  }

  function list(req: RecordedRequest): FakeResponse {
    const namespace = namespaceOf(req.query.get('namespace'))
    const prefix = req.query.get('prefix') ?? ''
    const limit = Number(req.query.get('limit') ?? 100)
    if (!Number.isInteger(limit) || limit < 1) {
      return dataError(400, 'limit must be a positive integer')
    }
    const token = req.query.get('paginationToken')
    let after = ''
    if (token !== null) {
      const decoded = /^[A-Za-z0-9_-]+$/.test(token)
        ? Buffer.from(token, 'base64url').toString()
        : ''
      if (!decoded.startsWith('after:')) {
        return dataError(400, 'The pagination token is invalid')
      }
      after = decoded.slice('after:'.length)
    }
    if (limit > MAX_LIST_LIMIT) {
      return dataError(400, `limit must be at most ${MAX_LIST_LIMIT}`)
    }
    const all = sortedIds(namespace)
    const from =
      token === null || byteOrder(after, prefix) < 0
        ? firstAfter(all, prefix, true)
        : firstAfter(all, after)
    const page: string[] = []
    let more = false
    for (let n = from; n < all.length; n += 1) {
      const id = all[n] ?? ''
      if (!id.startsWith(prefix)) {
        break // past the ids with the prefix (they are contiguous in byte order)
      }
      if (page.length === limit) {
        more = true
        break
      }
      page.push(id)
    }
    const body: Record<string, unknown> = { vectors: page.map((id) => ({ id })) }
    const last = page.at(-1)
    if (more && last !== undefined) {
      body.pagination = { next: Buffer.from(`after:${last}`).toString('base64url') }
    }
    Object.assign(body, { namespace, usage: { readUnits: 1 } })
    return { status: 200, body }
  }

  function fetchVectors(req: RecordedRequest): FakeResponse {
    const ids = req.query.getAll('ids')
    if (ids.length === 0 || ids.length > MAX_IDS) {
      return dataError(400, `ids must list 1 to ${MAX_IDS} ids`)
    }
    const namespace = namespaceOf(req.query.get('namespace'))
    const vectors: Record<string, FakeVector> = {}
    for (const id of ids) {
      const found = store.get(namespace)?.get(id)
      if (found) {
        vectors[id] = copyVector(found)
      }
    }
    return { status: 200, body: { vectors, namespace, usage: { readUnits: 1 } } }
  }

  function query(req: RecordedRequest): FakeResponse {
    const body = bodyOf(req) ?? {}
    const { topK, vector, id, filter, includeValues, includeMetadata } = body
    if (!Number.isInteger(topK) || (topK as number) < 1 || (topK as number) > MAX_TOP_K) {
      return dataError(400, `topK must be an integer from 1 to ${MAX_TOP_K}`)
    }
    if ((vector === undefined) === (id === undefined)) {
      return dataError(400, 'Exactly one of vector or id must be given')
    }
    const problem = filter === undefined ? undefined : filterProblem(filter)
    if (problem) {
      return dataError(400, problem)
    }
    const namespace = namespaceOf(body.namespace)
    const records = store.get(namespace) ?? new Map<string, FakeVector>()
    const probe = vector ?? records.get(String(id))?.values
    if (probe !== undefined && (!Array.isArray(probe) || probe.length !== dimension)) {
      return dataError(
        400,
        `Query vector dimension ${Array.isArray(probe) ? probe.length : 0} does not match the dimension of the index ${dimension}`,
      )
    }
    const matches =
      probe === undefined
        ? []
        : [...records.values()]
            .filter(
              (r) =>
                filter === undefined ||
                matchesFilter(filter as Record<string, unknown>, r.metadata),
            )
            .map((r) => ({ record: r, score: cosine(probe as number[], r.values) }))
            .sort((a, b) => b.score - a.score || byteOrder(a.record.id, b.record.id))
            .slice(0, topK as number)
            .map(({ record, score }) => ({
              id: record.id,
              score,
              values: includeValues === true ? [...record.values] : [],
              ...(includeMetadata === true &&
                record.metadata && { metadata: structuredClone(record.metadata) }),
            }))
    return { status: 200, body: { matches, namespace, usage: { readUnits: 5 } } }
  }

  return {
    'POST /vectors/upsert': upsert,
    'POST /vectors/delete': remove,
    'POST /describe_index_stats': stats,
    'GET /vectors/list': list,
    'GET /vectors/fetch': fetchVectors,
    'POST /query': query,
  } satisfies Record<string, (req: RecordedRequest) => FakeResponse>
}
