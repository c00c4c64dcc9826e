import type { UpstreamFailure } from '#core/upstreams/failure.ts'
import {
  byteBatches,
  evenSlices,
  inSlices,
  MAX_DELETE_IDS,
  MAX_EMBED_INPUTS,
  MAX_UPSERT_BYTES,
  MAX_UPSERT_VECTORS,
  recordBytes,
} from './batches.ts'
import { type PineconeHttpOptions, pineconeRequest } from './http.ts'
import { cleanMetadata, type Metadata } from './metadata.ts'

/** A document to index: its vector id, the text to embed, and its metadata. */
export type PineconeDocument = {
  id: string
  text: string
  metadata: Record<string, string | number | boolean | string[]>
}

/**
 * Where documents go: embeddings from Pinecone inference, vectors into one index namespace.
 * Failures never carry the API key; `dimension-mismatch` means the index does not fit the
 * embedding model, and nothing was written. A call's `signal` ends it, waits for the pace and
 * retries included, as a `timeout`.
 */
export type PineconeSink = {
  /**
   * Embeds (batches of ≤ 96, passage input, truncated at the end) and upserts (≤ 1000 vectors and
   * ≤ 2 MB per request) the documents, by id, so repeating a call is harmless. Checks the index
   * dimension first (once per sink) and refuses to write when it differs from the model's.
   */
  upsertDocuments(
    docs: readonly PineconeDocument[],
    signal?: AbortSignal,
  ): Promise<{ ok: true; written: number } | UpstreamFailure>
  /** Deletes vectors by id (batches of ≤ 1000); unknown ids are fine. */
  deleteIds(ids: readonly string[], signal?: AbortSignal): Promise<{ ok: true } | UpstreamFailure>
  /**
   * Every id in the namespace that starts with `prefix` (`GET /vectors/list`, all pages), in byte
   * order. Listing is eventually consistent: a vector upserted moments ago may be missing.
   */
  listIds(
    prefix: string,
    signal?: AbortSignal,
  ): Promise<{ ok: true; ids: string[] } | UpstreamFailure>
  /**
   * One page of the ids starting with `prefix` (up to 100, byte order) from `token` (the `next` of
   * the page before; none for the first). No `next` means the listing is complete.
   */
  listPage(
    prefix: string,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ ok: true; ids: string[]; next?: string } | UpstreamFailure>
  /** The index is reachable and its dimension equals the embedding model's (health, and before writing). */
  checkIndex(): Promise<{ ok: true; dimension: number } | UpstreamFailure>
}

/** A sink's settings; `pace` also runs before each retry. */
export type PineconeSinkOptions = PineconeHttpOptions & {
  /** the index host, e.g. `https://my-index-abc123.svc.pinecone.io` (a fake: `http://127.0.0.1:port`) */
  indexHost: string
  /** `''` is the default namespace */
  namespace: string
  /** e.g. `llama-text-embed-v2` */
  embedModel: string
  /** control plane and inference, `https://api.pinecone.io` by default */
  controllerUrl: string
}

// The data plane names the default namespace `__default__` (an empty name means it too).
const DEFAULT_NAMESPACE = '__default__'

// A host given without a scheme is https, as Pinecone prints index hosts without one.
function baseUrlOf(host: string): string {
  const url = /^https?:\/\//i.test(host) ? host : `https://${host}`
  return url.replace(/\/+$/, '')
}

type Answer<T> = { ok: true; value: T } | UpstreamFailure

// A 2xx whose body is not the shape asked for is a transient `invalid-response`, never a throw.
function invalid(what: string): UpstreamFailure {
  return {
    ok: false,
    reason: 'invalid-response',
    message: `Pinecone answered ${what} with a body of an unexpected shape.`,
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A Pinecone sink over Pinecone's REST API (`http.ts`), pointed at the index host directly (no
 * `describe_index` round trip) and at `controllerUrl` for inference. Failures are data, never throws.
 * @example
 * const sink = createPineconeSink({ apiKey, indexHost, namespace: '', embedModel: 'llama-text-embed-v2', controllerUrl: 'https://api.pinecone.io' })
 * const result = await sink.upsertDocuments([{ id: 'jira-OPS-1', text: 'Fix login', metadata: { source: 'jira' } }])
 */
export function createPineconeSink(options: PineconeSinkOptions): PineconeSink {
  const indexUrl = baseUrlOf(options.indexHost)
  const controllerUrl = baseUrlOf(options.controllerUrl)
  const namespace = options.namespace || DEFAULT_NAMESPACE
  let verifiedDimension: number | undefined
  let knownModelDimension: number | undefined

  async function post(url: string, body: unknown, what: string, signal?: AbortSignal) {
    return pineconeRequest(options, { method: 'POST', url, body, what, signal })
  }

  async function embed(texts: string[], signal?: AbortSignal): Promise<Answer<number[][]>> {
    const what = `an embedding with ${options.embedModel}`
    const answer = await post(
      `${controllerUrl}/embed`,
      {
        model: options.embedModel,
        parameters: { input_type: 'passage', truncate: 'END' },
        inputs: texts.map((text) => ({ text })),
      },
      what,
      signal,
    )
    if (!answer.ok) {
      return answer
    }
    const data = isRecord(answer.json) ? answer.json.data : undefined
    if (!Array.isArray(data)) {
      return invalid(what)
    }
    const vectors = data.map((item: unknown) =>
      isRecord(item) && Array.isArray(item.values) ? (item.values as number[]) : [],
    )
    return { ok: true, value: vectors }
  }

  async function checkIndex(
    signal?: AbortSignal,
  ): Promise<{ ok: true; dimension: number } | UpstreamFailure> {
    const stats = await post(`${indexUrl}/describe_index_stats`, {}, 'the index statistics', signal)
    if (!stats.ok) {
      return stats
    }
    const dimension = isRecord(stats.json) ? stats.json.dimension : undefined
    const indexDimension = typeof dimension === 'number' ? dimension : undefined
    // The model's output size, from one short embedding (the data plane does not publish it);
    // a model's size never changes, so it is asked once per sink.
    let modelDimension = knownModelDimension
    if (modelDimension === undefined) {
      const probe = await embed(['dimension check'], signal)
      if (!probe.ok) {
        return probe
      }
      modelDimension = probe.value[0]?.length ?? 0
    }
    knownModelDimension = modelDimension
    if (indexDimension === undefined || indexDimension !== modelDimension) {
      return {
        ok: false,
        reason: 'dimension-mismatch',
        message: `The index has dimension ${indexDimension ?? 'unknown'} but ${options.embedModel} produces ${modelDimension}; refusing to write.`,
      }
    }
    return { ok: true, dimension: indexDimension }
  }

  async function ensureIndex(signal?: AbortSignal): Promise<UpstreamFailure | undefined> {
    if (verifiedDimension !== undefined) {
      return undefined
    }
    const checked = await checkIndex(signal)
    if (!checked.ok) {
      return checked
    }
    verifiedDimension = checked.dimension
    return undefined
  }

  // The slices of a call are embedded side by side (each request paced like any other), so a
  // page of 100 documents takes one embedding's latency, not two.
  async function embedAll(
    docs: readonly PineconeDocument[],
    signal?: AbortSignal,
  ): Promise<Answer<Array<{ id: string; values: number[]; metadata: Metadata }>>> {
    const slices = evenSlices(docs, MAX_EMBED_INPUTS)
    const answers = await Promise.all(
      slices.map((slice) =>
        // An empty input is refused by the model; the id is a harmless stand-in.
        embed(
          slice.map((doc) => (doc.text.trim() === '' ? doc.id : doc.text)),
          signal,
        ),
      ),
    )
    const records: Array<{ id: string; values: number[]; metadata: Metadata }> = []
    for (const [s, vectors] of answers.entries()) {
      if (!vectors.ok) {
        return vectors
      }
      for (const [n, doc] of (slices[s] ?? []).entries()) {
        const values = vectors.value[n]
        if (!values || values.length !== verifiedDimension) {
          return {
            ok: false,
            reason: 'dimension-mismatch',
            message: `${options.embedModel} returned a vector of ${values?.length ?? 0} values for an index of dimension ${verifiedDimension}; refusing to write.`,
          }
        }
        records.push({ id: doc.id, values, metadata: cleanMetadata(doc.metadata) })
      }
    }
    return { ok: true, value: records }
  }

  async function upsertAll(docs: readonly PineconeDocument[], signal?: AbortSignal) {
    if (docs.length === 0) {
      return { ok: true as const, written: 0 }
    }
    const refused = await ensureIndex(signal)
    if (refused) {
      return refused
    }
    const records = await embedAll(docs, signal)
    if (!records.ok) {
      return records
    }
    // A margin under 2 MB for the envelope (`{"vectors":[…],"namespace":…}`).
    const limits = { maxItems: MAX_UPSERT_VECTORS, maxBytes: MAX_UPSERT_BYTES - 64 * 1024 }
    let written = 0
    for (const batch of byteBatches(records.value, recordBytes, limits)) {
      const what = `an upsert of ${batch.length} vectors`
      const upserted = await post(
        `${indexUrl}/vectors/upsert`,
        { vectors: batch, namespace },
        what,
        signal,
      )
      if (!upserted.ok) {
        return upserted
      }
      written += batch.length
    }
    return { ok: true as const, written }
  }

  async function deleteAll(ids: readonly string[], signal?: AbortSignal) {
    for (const batch of inSlices([...new Set(ids)], MAX_DELETE_IDS)) {
      const what = `a delete of ${batch.length} vectors`
      const deleted = await post(
        `${indexUrl}/vectors/delete`,
        { ids: batch, namespace },
        what,
        signal,
      )
      if (!deleted.ok) {
        return deleted
      }
    }
    return { ok: true as const }
  }

  async function listOne(
    prefix: string,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ ok: true; ids: string[]; next?: string } | UpstreamFailure> {
    const what = `the list of ids starting with ${prefix}`
    const query = new URLSearchParams({ prefix, namespace })
    if (token) {
      query.set('paginationToken', token)
    }
    const answer = await pineconeRequest(options, {
      method: 'GET',
      url: `${indexUrl}/vectors/list?${query}`,
      what,
      signal,
    })
    if (!answer.ok) {
      return answer
    }
    const page = isRecord(answer.json) ? answer.json : {}
    const vectors = Array.isArray(page.vectors) ? page.vectors : []
    const ids = vectors.flatMap((vector: unknown) =>
      isRecord(vector) && typeof vector.id === 'string' ? [vector.id] : [],
    )
    const next = isRecord(page.pagination) ? page.pagination.next : undefined
    if (typeof next === 'string' && next !== '' && next === token) {
      // A token that does not advance would page forever.
      return {
        ok: false,
        reason: 'invalid-response',
        message: `Pinecone repeated a pagination token while listing ids starting with ${prefix}.`,
      }
    }
    return { ok: true, ids, ...(typeof next === 'string' && next !== '' && { next }) }
  }

  async function listAll(prefix: string, signal?: AbortSignal) {
    const ids: string[] = []
    let token: string | undefined
    do {
      const page = await listOne(prefix, token, signal)
      if (!page.ok) {
        return page
      }
      ids.push(...page.ids)
      token = page.next
    } while (token)
    return { ok: true as const, ids }
  }

  return {
    upsertDocuments: (docs, signal) => upsertAll(docs, signal),
    deleteIds: (ids, signal) => deleteAll(ids, signal),
    listIds: (prefix, signal) => listAll(prefix, signal),
    listPage: (prefix, token, signal) => listOne(prefix, token, signal),
    checkIndex: () => checkIndex(),
  }
}
