import {
  Errors,
  Pinecone,
  type PineconeRecord,
  type RecordMetadata,
} from '@pinecone-database/pinecone'
import { describe, expect, it } from 'vitest'
import { useFakePinecone } from '#test/fakes.ts'
import { startFakePinecone } from './pinecone.ts'
import { DEFAULT_NAMESPACE } from './pinecone-index.ts'

const DIMENSION = 8
const { PineconeAuthorizationError, PineconeBadRequestError } = Errors

const fake = useFakePinecone({ dimension: DIMENSION })

function client(apiKey = 'fake-pinecone-key') {
  return new Pinecone({ apiKey, controllerHostUrl: fake.url, maxRetries: 0 })
}

function index() {
  return client().index({ host: fake.url })
}

/** A vector pointing mostly along axis `axis`. */
function along(axis: number, tilt = 0): number[] {
  return Array.from({ length: DIMENSION }, (_, n) =>
    n === axis ? 1 : n === (axis + 1) % DIMENSION ? tilt : 0,
  )
}

function record(id: string, metadata?: Record<string, unknown>): PineconeRecord {
  return {
    id,
    values: along(0),
    ...(metadata && { metadata: metadata as RecordMetadata }),
  }
}

function norm(values: number[]): number {
  return Math.sqrt(values.reduce((sum, value) => sum + value * value, 0))
}

describe('fake pinecone inference', () => {
  describe('happy', () => {
    it('embeds deterministically into unit vectors of the model dimension', async () => {
      const pc = client()
      const options = {
        model: 'llama-text-embed-v2',
        inputs: ['Fix login', 'Speed up export'],
        parameters: { inputType: 'passage', truncate: 'END' },
      }
      const first = await pc.inference.embed(options)
      const again = await pc.inference.embed(options)
      const values = first.data.map((item) => (item.vectorType === 'dense' ? item.values : []))
      expect(values.map((v) => v.length)).toEqual([1024, 1024])
      expect(values.map((v) => Number(norm(v).toFixed(6)))).toEqual([1, 1])
      expect(again.data).toEqual(first.data)
      expect(values[0]).not.toEqual(values[1])
      expect(first.usage?.totalTokens).toBe(Math.ceil(9 / 4) + Math.ceil(15 / 4))
      expect(fake.requests[0]?.body).toEqual({
        model: 'llama-text-embed-v2',
        inputs: [{ text: 'Fix login' }, { text: 'Speed up export' }],
        parameters: { input_type: 'passage', truncate: 'END' },
      })
      expect(fake.requests[0]?.headers['x-pinecone-api-version']).toMatch(/^\d{4}-\d{2}/)
    })

    it('gives a query a different vector from the passage with the same text, and honours dimension', async () => {
      const pc = client()
      const embed = async (inputType: string, dimension?: string) => {
        const parameters: Record<string, string> = { inputType, ...(dimension && { dimension }) }
        const res = await pc.inference.embed({
          model: 'llama-text-embed-v2',
          inputs: ['same'],
          parameters,
        })
        const item = res.data[0]
        return item?.vectorType === 'dense' ? item.values : []
      }
      expect(await embed('query')).not.toEqual(await embed('passage'))
      expect(await embed('query', '512')).toHaveLength(512)
      const e5 = await pc.inference.embed({
        model: 'multilingual-e5-large',
        inputs: ['x'],
        parameters: { inputType: 'query' },
      })
      expect(e5.data[0]?.vectorType === 'dense' && e5.data[0].values).toHaveLength(1024)
    })
  })

  describe('errors', () => {
    it('rejects more than 96 inputs, an unknown model and a long input with truncate NONE', async () => {
      const pc = client()
      const parameters = { inputType: 'passage' }
      const inputs = Array.from({ length: 97 }, (_, n) => `text ${n}`)
      await expect(
        pc.inference.embed({ model: 'llama-text-embed-v2', inputs, parameters }),
      ).rejects.toThrow(PineconeBadRequestError)
      await expect(
        pc.inference.embed({
          model: 'llama-text-embed-v2',
          inputs: inputs.slice(0, 96),
          parameters,
        }),
      ).resolves.toMatchObject({ model: 'llama-text-embed-v2' })
      await expect(
        pc.inference.embed({ model: 'text-embedding-3-small', inputs: ['x'], parameters }),
      ).rejects.toThrow(PineconeBadRequestError)
      const long = 'x'.repeat(4 * 2048 + 1)
      const none = { inputType: 'passage', truncate: 'NONE' }
      await expect(
        pc.inference.embed({ model: 'llama-text-embed-v2', inputs: [long], parameters: none }),
      ).rejects.toThrow(PineconeBadRequestError)
      await expect(
        pc.inference.embed({
          model: 'llama-text-embed-v2',
          inputs: [long],
          parameters: { inputType: 'passage' },
        }),
      ).resolves.toMatchObject({ usage: { totalTokens: 2048 } })
      // The 400 came from the fake, not from a check in the client.
      expect(fake.requests.at(-2)?.body).toMatchObject({
        inputs: [{ text: long }],
        parameters: { truncate: 'NONE' },
      })
    })
  })

  describe('security', () => {
    it('answers 401 Unauthorized to a wrong api key', async () => {
      const call = client('wrong-key').inference.embed({
        model: 'llama-text-embed-v2',
        inputs: ['x'],
        parameters: { inputType: 'query' },
      })
      await expect(call).rejects.toThrow(PineconeAuthorizationError)
      const res = await fetch(`${fake.url}/describe_index_stats`, { method: 'POST', body: '{}' })
      expect([res.status, await res.text()]).toEqual([401, 'Unauthorized'])
    })
  })
})

describe('fake pinecone embedding size', () => {
  describe('happy', () => {
    it('answers embeddings of embedDimension values unless the request names a dimension', async () => {
      const small = await startFakePinecone({ dimension: 8, embedDimension: 8 })
      try {
        const pc = new Pinecone({
          apiKey: small.apiKey,
          controllerHostUrl: small.url,
          maxRetries: 0,
        })
        const embed = async (parameters: Record<string, string>) =>
          (await pc.inference.embed({ model: 'llama-text-embed-v2', inputs: ['x'], parameters }))
            .data[0] as { values: number[] }
        expect((await embed({ input_type: 'passage' })).values).toHaveLength(8)
        expect((await embed({ input_type: 'passage', dimension: '384' })).values).toHaveLength(384)
      } finally {
        await small.close()
      }
    })
  })
})

describe('fake pinecone index', () => {
  describe('happy', () => {
    it('upserts (replacing by id), fetches, describes stats and deletes', async () => {
      const idx = index()
      await idx.upsert({ records: [record('a', { n: 1 }), record('b')] })
      await idx.upsert({ records: [record('a', { n: 2 })] })
      await idx.upsert({ records: [record('c')], namespace: 'other' })
      const fetched = await idx.fetch({ ids: ['a', 'missing'] })
      expect(Object.keys(fetched.records)).toEqual(['a'])
      expect(fetched.records.a?.metadata).toEqual({ n: 2 })
      expect(await idx.describeIndexStats()).toEqual({
        namespaces: { [DEFAULT_NAMESPACE]: { recordCount: 2 }, other: { recordCount: 1 } },
        dimension: DIMENSION,
        indexFullness: 0,
        totalRecordCount: 3,
      })
      await idx.deleteMany({ ids: ['a'] })
      expect([...fake.vectors().keys()]).toEqual(['b'])
      await idx.deleteAll({ namespace: 'other' })
      expect(fake.vectors('other').size).toBe(0)
      expect(fake.vectors('').size).toBe(1)
    })

    it('lists ids in byte order, page by page, with no token on the last page', async () => {
      // '😀' sorts before '！' in UTF-16 but after it in UTF-8 bytes, which is Pinecone's order.
      const ids = ['doc#😀', 'doc#é', 'doc#b', 'doc#！', 'doc#Z', 'doc#a', 'doc#B', 'other']
      await index().upsert({ records: ids.map((id) => record(id)) })
      const seen: string[] = []
      const tokens: Array<string | undefined> = []
      let token: string | undefined
      do {
        const page = await index().listPaginated({
          prefix: 'doc#',
          limit: 2,
          ...(token && { paginationToken: token }),
        })
        seen.push(...(page.vectors ?? []).map((v) => v.id ?? ''))
        token = page.pagination?.next
        tokens.push(token)
      } while (token)
      expect(seen).toEqual(['doc#B', 'doc#Z', 'doc#a', 'doc#b', 'doc#é', 'doc#！', 'doc#😀'])
      expect(tokens.map((t) => t === undefined)).toEqual([false, false, false, true])
      const all = await index().listPaginated()
      expect(all.vectors).toHaveLength(8)
    })

    it('queries by cosine, ranking and cutting at topK, with values and metadata on request', async () => {
      fake.seedVectors([
        { id: 'near', values: along(0, 0.1), metadata: { k: 'x' } },
        { id: 'far', values: along(3) },
        { id: 'mid', values: along(0, 1) },
      ])
      const plain = await index().query({ vector: along(0), topK: 2 })
      expect(plain.matches.map((m) => m.id)).toEqual(['near', 'mid'])
      expect(plain.matches[0]?.score).toBeCloseTo(1 / Math.sqrt(1.01), 6)
      expect(plain.matches[0]?.metadata).toBeUndefined()
      expect(plain.matches[0]?.values).toEqual([])
      const rich = await index().query({
        vector: along(0),
        topK: 1,
        includeValues: true,
        includeMetadata: true,
      })
      expect(rich.matches[0]).toMatchObject({
        id: 'near',
        values: along(0, 0.1),
        metadata: { k: 'x' },
      })
      const byId = await index().query({ id: 'far', topK: 1 })
      expect(byId.matches.map((m) => m.id)).toEqual(['far'])
    })

    it('filters with every operator', async () => {
      fake.seedVectors([
        {
          id: 'j1',
          values: along(0),
          metadata: { source: 'jira', ts: 10, tags: ['a', 'b'], open: true },
        },
        { id: 'j2', values: along(1), metadata: { source: 'jira', ts: 20, open: false } },
        { id: 't1', values: along(2), metadata: { source: 'tempo', ts: 30, tags: ['c'] } },
      ])
      const cases: Array<[object, string[]]> = [
        [{ source: 'jira' }, ['j1', 'j2']],
        [{ source: { $eq: 'tempo' } }, ['t1']],
        [{ source: { $ne: 'jira' } }, ['t1']],
        [{ ts: { $gt: 10 } }, ['j2', 't1']],
        [{ ts: { $gte: 20 } }, ['j2', 't1']],
        [{ ts: { $lt: 20 } }, ['j1']],
        [{ ts: { $lte: 20 } }, ['j1', 'j2']],
        [{ source: { $in: ['tempo', 'other'] } }, ['t1']],
        [{ source: { $nin: ['tempo'] } }, ['j1', 'j2']],
        [{ tags: { $exists: false } }, ['j2']],
        [{ tags: 'b' }, ['j1']],
        [{ tags: { $in: ['c', 'z'] } }, ['t1']],
        [{ $and: [{ source: 'jira' }, { open: true }] }, ['j1']],
        [{ $or: [{ ts: { $gte: 30 } }, { open: false }] }, ['j2', 't1']],
      ]
      for (const [filter, expected] of cases) {
        const res = await index().query({ vector: along(0), topK: 10, filter })
        expect(res.matches.map((m) => m.id).sort(), JSON.stringify(filter)).toEqual(expected)
      }
      await index().deleteMany({ filter: { source: 'jira' } })
      expect([...fake.vectors().keys()]).toEqual(['t1'])
    })

    it('resolves the index host from the controller by name', async () => {
      const idx = client().index({ name: 'agent-pm-test-index' })
      await idx.upsert({ records: [record('x')] })
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /indexes/agent-pm-test-index',
        'POST /vectors/upsert',
      ])
    })

    it('defaults to the 1024 dimensions of llama-text-embed-v2', async () => {
      const other = await startFakePinecone()
      try {
        const stats = await new Pinecone({ apiKey: other.apiKey, controllerHostUrl: other.url })
          .index({ host: other.url })
          .describeIndexStats()
        expect(stats.dimension).toBe(1024)
      } finally {
        await other.close()
      }
    })
  })

  describe('errors', () => {
    const rejects = async (records: PineconeRecord[], message: RegExp) => {
      const error = await index()
        .upsert({ records })
        .then(
          () => undefined,
          (err: unknown) => err,
        )
      expect(error).toBeInstanceOf(PineconeBadRequestError)
      expect(String(error)).toMatch(message)
      expect(fake.vectors().size).toBe(0)
    }

    it('rejects more than 1000 vectors in one upsert, and accepts exactly 1000', async () => {
      const batch = Array.from({ length: 1001 }, (_, n) => record(`r${n}`))
      await rejects(batch, /1001 vectors/)
      await index().upsert({ records: batch.slice(0, 1000) })
      expect(fake.vectors().size).toBe(1000)
    })

    it('rejects a request body over 2 MB', async () => {
      const text = 'x'.repeat(2500)
      await rejects(
        Array.from({ length: 900 }, (_, n) => record(`r${n}`, { text })),
        /2MB/,
      )
    })

    it('rejects null, nested and non-string-list metadata values and metadata over 40 KB', async () => {
      await rejects([record('a', { gone: null })], /'null' for field 'gone'/)
      await rejects([record('a', { nested: { b: 1 } })], /'object' for field 'nested'/)
      await rejects([record('a', { numbers: [1, 2] })], /non-string values/)
      await rejects([record('a', { text: 'x'.repeat(41_000) })], /exceeds the limit of 40960 bytes/)
      await index().upsert({
        records: [record('a', { text: 'x'.repeat(40_000), tags: ['a'], ok: true })],
      })
      expect(fake.vectors().size).toBe(1)
    })

    it('rejects a vector of the wrong dimension, on upsert and on query', async () => {
      await rejects([{ id: 'a', values: [1, 2, 3] }], /dimension 3 does not match/)
      await expect(index().query({ vector: [1, 2, 3], topK: 1 })).rejects.toThrow(
        PineconeBadRequestError,
      )
    })

    it('rejects an unknown filter operator', async () => {
      await expect(
        index().query({ vector: along(0), topK: 1, filter: { ts: { $regex: 'x' } } }),
      ).rejects.toThrow(PineconeBadRequestError)
    })
  })

  describe('security', () => {
    it('answers 401 to a wrong api key on the index host', async () => {
      const idx = client('wrong-key').index({ host: fake.url })
      await expect(idx.upsert({ records: [record('a')] })).rejects.toThrow(
        PineconeAuthorizationError,
      )
      expect(fake.vectors().size).toBe(0)
    })
  })
})
