import { AsyncLocalStorage } from 'node:async_hooks'
import { Pinecone } from '@pinecone-database/pinecone'
import {
  type CallOptions,
  capMessage,
  failureOfStatus,
  type UpstreamFailure,
} from '#core/upstreams/failure.ts'
import { retryAfterMsOf } from '#core/upstreams/retry-after.ts'
import {
  byteBatches,
  inSlices,
  MAX_DELETE_IDS,
  MAX_EMBED_INPUTS,
  MAX_UPSERT_BYTES,
  MAX_UPSERT_VECTORS,
  recordBytes,
} from './batches.ts'
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
 * the SDK's own retries included, as a `timeout`.
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

/** A sink's settings; `pace` also runs before the SDK's own retries. */
export type PineconeSinkOptions = Omit<CallOptions, 'retry'> & {
  apiKey: string
  /** the index host, e.g. `https://my-index-abc123.svc.pinecone.io` (a fake: `http://127.0.0.1:port`) */
  indexHost: string
  /** `''` is the default namespace */
  namespace: string
  /** e.g. `llama-text-embed-v2` */
  embedModel: string
  /** control plane and inference, `https://api.pinecone.io` by default */
  controllerUrl: string
  /** The SDK's own retries of 5xx (default 2); it never retries 429, which we return instead. */
  maxRetries?: number
}

// Thrown by our fetch wrapper so that a 429 keeps its Retry-After through the SDK, which would
// otherwise turn it into an error without headers. Not named `status`, so the SDK does not retry it.
class Throttled extends Error {
  override readonly name = 'PineconeThrottled'
  readonly httpStatus: number
  readonly retryAfterMs: number | undefined

  constructor(httpStatus: number, retryAfterMs: number | undefined) {
    super(`Pinecone answered HTTP ${httpStatus}.`)
    this.httpStatus = httpStatus
    this.retryAfterMs = retryAfterMs
  }
}

// Thrown by our fetch wrapper for a 3xx: redirects are never followed, as they would carry the key.
class Redirected extends Error {
  override readonly name = 'PineconeRedirected'
  readonly httpStatus: number

  constructor(httpStatus: number) {
    super(`Pinecone answered HTTP ${httpStatus} (a redirect).`)
    this.httpStatus = httpStatus
  }
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = []
  let current = err
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current)
    current = (current as { cause?: unknown }).cause
  }
  return chain
}

function nameOf(err: unknown): string {
  return err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err)
    ? String((err as { name: unknown }).name)
    : ''
}

/** Maps whatever the SDK (or our fetch wrapper) threw to a failure; `what` names the operation. */
function failureOf(err: unknown, what: string, timeoutMs: number): UpstreamFailure {
  const chain = causes(err)
  const throttled = chain.find((e): e is Throttled => e instanceof Throttled)
  if (throttled) {
    const status = throttled.httpStatus
    return failureOfStatus(
      status,
      (reason) =>
        reason === 'rate-limited'
          ? `Pinecone is rate limiting ${what} (HTTP 429).`
          : `Pinecone is unavailable for ${what} (HTTP ${status}).`,
      throttled.retryAfterMs,
    )
  }
  const redirected = chain.find((e): e is Redirected => e instanceof Redirected)
  if (redirected) {
    return {
      ok: false,
      reason: 'bad-request',
      status: redirected.httpStatus,
      message: `Pinecone answered ${what} with a redirect (HTTP ${redirected.httpStatus}), which is never followed: check PINECONE_INDEX_HOST and PINECONE_CONTROLLER_URL.`,
    }
  }
  const names = chain.map(nameOf)
  if (names.some((name) => name === 'TimeoutError' || name === 'AbortError')) {
    return {
      ok: false,
      reason: 'timeout',
      message: `Pinecone did not answer ${what} within ${timeoutMs} ms.`,
    }
  }
  const top = names[0] ?? ''
  if (top === 'PineconeAuthorizationError') {
    return {
      ok: false,
      reason: 'unauthorized',
      message: 'Pinecone refused the API key (HTTP 401): check PINECONE_API_KEY.',
    }
  }
  if (
    [
      'PineconeInternalServerError',
      'PineconeUnavailableError',
      'PineconeMaxRetriesExceededError',
    ].includes(top)
  ) {
    return {
      ok: false,
      reason: 'unavailable',
      message: `Pinecone is unavailable for ${what} (HTTP 5xx).`,
    }
  }
  if (top === 'PineconeConnectionError' || names.includes('TypeError')) {
    const code = chain.map((e) => (e as { code?: unknown }).code).find((c) => typeof c === 'string')
    return {
      ok: false,
      reason: 'network',
      message: `Pinecone could not be reached for ${what}${code ? ` (${String(code)})` : ''}.`,
    }
  }
  // 400/403/404/422 and the SDK's own argument checks: the request itself is wrong.
  const detail = err instanceof Error ? capMessage(err.message) : 'unknown error'
  return { ok: false, reason: 'bad-request', message: `Pinecone refused ${what}: ${detail}` }
}

/**
 * A Pinecone sink over `@pinecone-database/pinecone` v8, pointed at the index host directly (no
 * `describeIndex` round trip) and at `controllerUrl` for inference. Failures are data, never throws.
 * @example
 * const sink = createPineconeSink({ apiKey, indexHost, namespace: '', embedModel: 'llama-text-embed-v2', controllerUrl: 'https://api.pinecone.io' })
 * const result = await sink.upsertDocuments([{ id: 'jira-OPS-1', text: 'Fix login', metadata: { source: 'jira' } }])
 */
export function createPineconeSink(options: PineconeSinkOptions): PineconeSink {
  const timeoutMs = options.timeoutMs ?? 30_000
  const now = options.now ?? Date.now
  const baseFetch = options.fetch ?? globalThis.fetch
  // The signal of the sink call a request belongs to: the SDK takes none, so `fetchApi` reads it
  // from the call's async context (calls may overlap, so no shared variable).
  const callSignal = new AsyncLocalStorage<AbortSignal | undefined>()

  async function fetchApi(url: string | URL | Request, init?: RequestInit): Promise<Response> {
    const stop = callSignal.getStore()
    await options.pace?.(stop)
    // The time-out starts once the pace lets the request go.
    const signals = [AbortSignal.timeout(timeoutMs), init?.signal, stop]
    const signal = AbortSignal.any(
      signals.filter((s): s is AbortSignal => s instanceof AbortSignal),
    )
    // Never follow a redirect: it would send the API key to wherever it points.
    const response = await baseFetch(url, { ...init, signal, redirect: 'manual' })
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel()
      throw new Redirected(response.status)
    }
    const retryAfterMs =
      response.status === 429 || response.status === 503
        ? retryAfterMsOf(response.headers, now())
        : undefined
    if (response.status === 429 || retryAfterMs !== undefined) {
      await response.body?.cancel()
      if (retryAfterMs !== undefined) {
        await options.onThrottle?.(now() + retryAfterMs)
      }
      throw new Throttled(response.status, retryAfterMs)
    }
    return response
  }

  const pc = new Pinecone({
    apiKey: options.apiKey,
    controllerHostUrl: options.controllerUrl,
    fetchApi: fetchApi as typeof fetch,
    maxRetries: options.maxRetries ?? 2,
  })
  const index = pc.index({ host: options.indexHost, namespace: options.namespace })
  let verifiedDimension: number | undefined
  let knownModelDimension: number | undefined

  async function embed(texts: string[]): Promise<number[][]> {
    const result = await pc.inference.embed({
      model: options.embedModel,
      inputs: texts,
      parameters: { input_type: 'passage', truncate: 'END' },
    })
    return result.data.map((item) =>
      'values' in item && Array.isArray(item.values) ? item.values : [],
    )
  }

  // What a thrown SDK call becomes: the caller's own stop first, else the mapped failure.
  function failed(err: unknown, what: string): UpstreamFailure {
    if (callSignal.getStore()?.aborted) {
      return {
        ok: false,
        reason: 'timeout',
        message: `The Pinecone call (${what}) was stopped by its caller.`,
      }
    }
    return failureOf(err, what, timeoutMs)
  }

  async function checkIndex(): Promise<{ ok: true; dimension: number } | UpstreamFailure> {
    let indexDimension: number | undefined
    let modelDimension: number
    try {
      indexDimension = (await index.describeIndexStats()).dimension
    } catch (err) {
      return failed(err, 'the index statistics')
    }
    try {
      // The model's output size, from one short embedding (the data plane does not publish it);
      // a model's size never changes, so it is asked once per sink.
      modelDimension = knownModelDimension ?? (await embed(['dimension check']))[0]?.length ?? 0
    } catch (err) {
      return failed(err, `an embedding with ${options.embedModel}`)
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

  async function ensureIndex(): Promise<UpstreamFailure | undefined> {
    if (verifiedDimension !== undefined) {
      return undefined
    }
    const checked = await checkIndex()
    if (!checked.ok) {
      return checked
    }
    verifiedDimension = checked.dimension
    return undefined
  }

  async function upsertAll(docs: readonly PineconeDocument[]) {
    if (docs.length === 0) {
      return { ok: true as const, written: 0 }
    }
    const refused = await ensureIndex()
    if (refused) {
      return refused
    }
    const records: Array<{ id: string; values: number[]; metadata: Metadata }> = []
    for (const slice of inSlices(docs, MAX_EMBED_INPUTS)) {
      let vectors: number[][]
      try {
        // An empty input is refused by the model; the id is a harmless stand-in.
        vectors = await embed(slice.map((doc) => (doc.text.trim() === '' ? doc.id : doc.text)))
      } catch (err) {
        return failed(err, `an embedding with ${options.embedModel}`)
      }
      for (const [n, doc] of slice.entries()) {
        const values = vectors[n]
        if (!values || values.length !== verifiedDimension) {
          return {
            ok: false as const,
            reason: 'dimension-mismatch' as const,
            message: `${options.embedModel} returned a vector of ${values?.length ?? 0} values for an index of dimension ${verifiedDimension}; refusing to write.`,
          }
        }
        records.push({ id: doc.id, values, metadata: cleanMetadata(doc.metadata) })
      }
    }
    // A margin under 2 MB for the envelope and the SDK's own fields.
    const limits = { maxItems: MAX_UPSERT_VECTORS, maxBytes: MAX_UPSERT_BYTES - 64 * 1024 }
    let written = 0
    for (const batch of byteBatches(records, recordBytes, limits)) {
      try {
        await index.upsert({ records: batch })
      } catch (err) {
        return failed(err, `an upsert of ${batch.length} vectors`)
      }
      written += batch.length
    }
    return { ok: true as const, written }
  }

  async function deleteAll(ids: readonly string[]) {
    for (const batch of inSlices([...new Set(ids)], MAX_DELETE_IDS)) {
      try {
        await index.deleteMany({ ids: batch })
      } catch (err) {
        return failed(err, `a delete of ${batch.length} vectors`)
      }
    }
    return { ok: true as const }
  }

  async function listOne(prefix: string, token: string | undefined) {
    try {
      const page = await index.listPaginated({ prefix, ...(token && { paginationToken: token }) })
      const ids = (page.vectors ?? []).flatMap((vector) =>
        vector.id === undefined ? [] : [vector.id],
      )
      const next = page.pagination?.next
      if (next !== undefined && next === token) {
        return {
          ok: false as const,
          reason: 'invalid-response' as const,
          message: `Pinecone repeated a pagination token while listing ids starting with ${prefix}.`,
        }
      }
      return { ok: true as const, ids, ...(next && { next }) }
    } catch (err) {
      return failed(err, `the list of ids starting with ${prefix}`)
    }
  }

  async function listAll(prefix: string) {
    const ids: string[] = []
    let paginationToken: string | undefined
    do {
      let page: Awaited<ReturnType<typeof index.listPaginated>>
      try {
        page = await index.listPaginated({ prefix, ...(paginationToken && { paginationToken }) })
      } catch (err) {
        return failed(err, `the list of ids starting with ${prefix}`)
      }
      for (const vector of page.vectors ?? []) {
        if (vector.id !== undefined) {
          ids.push(vector.id)
        }
      }
      const next = page.pagination?.next
      if (next !== undefined && next === paginationToken) {
        // A token that does not advance would page forever.
        return {
          ok: false as const,
          reason: 'invalid-response' as const,
          message: `Pinecone repeated a pagination token while listing ids starting with ${prefix}.`,
        }
      }
      paginationToken = next
    } while (paginationToken)
    return { ok: true as const, ids }
  }

  return {
    upsertDocuments: (docs, signal) => callSignal.run(signal, () => upsertAll(docs)),
    deleteIds: (ids, signal) => callSignal.run(signal, () => deleteAll(ids)),
    listIds: (prefix, signal) => callSignal.run(signal, () => listAll(prefix)),
    listPage: (prefix, token, signal) => callSignal.run(signal, () => listOne(prefix, token)),
    checkIndex,
  }
}
