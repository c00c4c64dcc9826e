import { controlError, embed } from './pinecone-embed.ts'
import {
  copyVector,
  createIndexRoutes,
  dataError,
  type FakeVector,
  namespaceIn,
  namespaceOf,
} from './pinecone-index.ts'
import {
  type FakeResponse,
  type FakeServer,
  type RecordedRequest,
  startFakeServer,
} from './server.ts'

/** Options for `startFakePinecone`. */
export type FakePineconeOptions = {
  /** the accepted `Api-Key` (default `fake-pinecone-key`) */
  apiKey?: string
  /** the index dimension (default 1024, `llama-text-embed-v2`'s default) */
  dimension?: number
  /**
   * The dimension `/embed` answers with when a request names none (default: the model's own).
   * Not Pinecone's behaviour: it lets a benchmark hold 100,000 vectors in little memory.
   */
  embedDimension?: number
  port?: number
  /** when set, `GET /indexes/{name}` knows only this name; otherwise any name is the one index */
  indexName?: string
}

/**
 * A running fake Pinecone: one server for the controller (`/indexes`, inference `/embed`) and the
 * index host (`/vectors/*`, `/query`, `/describe_index_stats`), so both URLs are `url`.
 */
export type FakePinecone = FakeServer & {
  apiKey: string
  dimension: number
  /** A copy of one namespace's records by id; `''` and omitted mean the default namespace. */
  vectors(namespace?: string): Map<string, FakeVector>
  /** Namespaces holding at least one record. */
  namespaces(): string[]
  /** Stores records directly, bypassing the API's checks (for query tests). */
  seedVectors(records: readonly FakeVector[], namespace?: string): void
  /** Back to an empty index with no faults or recorded requests. */
  reset(): void
}

/**
 * Starts a fake Pinecone on 127.0.0.1 that the real `@pinecone-database/pinecone` v8 client can use:
 * `new Pinecone({ apiKey, controllerHostUrl: fake.url })` and `pc.index({ host: fake.url })`.
 * @example const pinecone = await startFakePinecone({ dimension: 8 })
 */
export async function startFakePinecone(options: FakePineconeOptions = {}): Promise<FakePinecone> {
  const apiKey = options.apiKey ?? 'fake-pinecone-key'
  const dimension = options.dimension ?? 1024
  const store = new Map<string, Map<string, FakeVector>>()
  let baseUrl = ''

  function describeIndex(name: string): FakeResponse {
    if (options.indexName !== undefined && name !== options.indexName) {
      return controlError(404, 'NOT_FOUND', `Resource ${name} not found`)
    }
    return {
      status: 200,
      body: {
        name,
        dimension,
        metric: 'cosine',
        host: baseUrl,
        deletion_protection: 'disabled',
        spec: { serverless: { cloud: 'aws', region: 'us-east-1' } },
        status: { ready: true, state: 'Ready' },
        vector_type: 'dense',
      },
    }
  }

  const indexRoutes: Record<string, (req: RecordedRequest) => FakeResponse> = createIndexRoutes(
    store,
    dimension,
  )
  const routes: Record<string, (req: RecordedRequest) => FakeResponse> = {
    ...indexRoutes,
    'POST /embed': (req) => embed(req.body, options.embedDimension),
  }

  const server = await startFakeServer((req) => {
    if (req.headers['api-key'] !== apiKey) {
      return { status: 401, body: 'Unauthorized' }
    }
    const route = routes[`${req.method} ${req.path}`]
    if (route) {
      return route(req)
    }
    const index = /^\/indexes\/([^/]+)$/.exec(req.path)
    if (index?.[1] && req.method === 'GET') {
      return describeIndex(decodeURIComponent(index[1]))
    }
    return dataError(404, `The fake Pinecone has no route for ${req.method} ${req.path}`)
  }, options.port)
  baseUrl = server.url

  return {
    ...server,
    apiKey,
    dimension,
    vectors(namespace) {
      const found = store.get(namespaceOf(namespace)) ?? new Map<string, FakeVector>()
      return new Map([...found].map(([id, vector]) => [id, copyVector(vector)]))
    },
    namespaces() {
      return [...store].filter(([, vectors]) => vectors.size > 0).map(([name]) => name)
    },
    seedVectors(records, namespace) {
      const target = namespaceIn(store, namespaceOf(namespace))
      for (const record of records) {
        target.set(record.id, copyVector(record))
      }
    },
    reset() {
      store.clear()
      server.clearFaults()
      server.requests.length = 0
    },
  }
}
