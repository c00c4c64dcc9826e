import { assert, describe, expect, it, vi } from 'vitest'
import { startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import { fakeEmbedding } from '#sandbox/fakes/pinecone-embed.ts'
import { useFakePinecone } from '#test/fakes.ts'
import { pineconeSinkOn } from '#test/upstreams.ts'
import type { PineconeDocument, PineconeSinkOptions } from './client.ts'

const pinecone = useFakePinecone()
const sink = (overrides: Partial<PineconeSinkOptions> = {}) => pineconeSinkOn(pinecone, overrides)

function docs(count: number, text = (n: number) => `Document number ${n}`): PineconeDocument[] {
  return Array.from({ length: count }, (_, n) => ({
    id: `doc-${n}`,
    text: text(n),
    metadata: { source: 'test', n, labels: ['a', 'b'], done: n % 2 === 0 },
  }))
}

const paths = () => pinecone.requests.map((r) => `${r.method} ${r.path}`)

describe('pinecone sink', () => {
  describe('happy', () => {
    it('embeds in even batches of at most 96, side by side, as passages truncated at the end, and upserts by id in requests of at most 2 MB', async () => {
      let inFlight = 0
      let mostInFlight = 0
      pinecone.onRequest(async (req) => {
        if (req.path === '/embed') {
          inFlight += 1
          mostInFlight = Math.max(mostInFlight, inFlight)
          await new Promise((resolve) => setTimeout(resolve, 50))
          inFlight -= 1
        }
      })
      const result = await sink().upsertDocuments(docs(200))
      pinecone.onRequest(undefined)
      expect(result).toEqual({ ok: true, written: 200 })
      const stored = pinecone.vectors('')
      expect(stored.size).toBe(200)
      const first = stored.get('doc-0')
      expect(first?.metadata).toEqual({ source: 'test', n: 0, labels: ['a', 'b'], done: true })
      expect(first?.values).toEqual(fakeEmbedding('Document number 0', 'passage', 1024))
      const embeds = pinecone.requests.filter((r) => r.path === '/embed').slice(1) // after the dimension check
      const inputs = embeds.map((r) => (r.body as { inputs: Array<{ text: string }> }).inputs)
      expect(inputs.map((batch) => batch.length).sort()).toEqual([66, 67, 67])
      expect(new Set(inputs.flat().map((input) => input.text)).size).toBe(200)
      expect(mostInFlight).toBe(3)
      expect((embeds[0]!.body as { parameters: unknown }).parameters).toEqual({
        input_type: 'passage',
        truncate: 'END',
      })
      // 200 vectors of 1024 floats are ~4 MB of JSON: three requests, each within 2 MB.
      const upserts = pinecone.requests.filter((r) => r.path === '/vectors/upsert')
      expect(upserts).toHaveLength(3)
      for (const upsert of upserts) {
        expect(Buffer.byteLength(upsert.rawBody)).toBeLessThanOrEqual(2 * 1024 * 1024)
      }
    })

    it('cleans metadata Pinecone would refuse: nulls dropped, 40 KB kept', async () => {
      const doc = {
        id: 'doc-null',
        text: 'text',
        metadata: { assignee: null, description: 'é'.repeat(60_000) },
      } as unknown as PineconeDocument
      const result = await sink().upsertDocuments([doc])
      expect(result).toEqual({ ok: true, written: 1 })
      const stored = pinecone.vectors('').get('doc-null')
      expect(stored?.metadata).not.toHaveProperty('assignee')
      expect(Buffer.byteLength(JSON.stringify(stored?.metadata))).toBeLessThanOrEqual(40 * 1024)
    })

    it('writes into the configured namespace and deletes by id', async () => {
      const target = sink({ namespace: 'jira' })
      expect(await target.upsertDocuments(docs(3))).toEqual({ ok: true, written: 3 })
      expect([...pinecone.vectors('jira').keys()].sort()).toEqual(['doc-0', 'doc-1', 'doc-2'])
      expect(await target.deleteIds(['doc-0', 'doc-2', 'unknown'])).toEqual({ ok: true })
      expect([...pinecone.vectors('jira').keys()]).toEqual(['doc-1'])
    })

    it('lists the ids with a prefix across pages, in byte order, and nothing past the prefix', async () => {
      const values = [0.1, 0.2]
      const ids = Array.from({ length: 230 }, (_, n) => `jira-AB-${n + 1}`)
      pinecone.seedVectors(
        [...ids, 'jira-ABC-1', 'jira-A-1', 'tempo-AB-1'].map((id) => ({ id, values })),
      )
      const result = await sink().listIds('jira-AB-')
      assert(result.ok, JSON.stringify(result))
      expect(result.ids).toEqual([...ids].sort())
      const lists = pinecone.requests.filter((r) => r.path === '/vectors/list')
      expect(lists.map((r) => r.query.get('prefix'))).toEqual(['jira-AB-', 'jira-AB-', 'jira-AB-'])
      expect(lists[0]?.query.get('paginationToken')).toBeNull()
      expect(lists[1]?.query.get('paginationToken')).toEqual(expect.any(String))
      expect(await sink().listIds('jira-NONE-')).toEqual({ ok: true, ids: [] })
    })

    it('sends the key and the API version with every request, and names the default namespace', async () => {
      await sink().upsertDocuments(docs(1))
      await sink().deleteIds(['doc-0'])
      await sink().listPage('doc-', undefined)
      expect(paths()).toEqual([
        'POST /describe_index_stats',
        'POST /embed',
        'POST /embed',
        'POST /vectors/upsert',
        'POST /vectors/delete',
        'GET /vectors/list',
      ])
      for (const request of pinecone.requests) {
        expect(request.headers['api-key']).toBe(pinecone.apiKey)
        expect(request.headers['x-pinecone-api-version']).toBe('2026-04')
      }
      const upsert = pinecone.requests.find((r) => r.path === '/vectors/upsert')
      expect(upsert?.body).toMatchObject({ namespace: '__default__' })
      const deleted = pinecone.requests.find((r) => r.path === '/vectors/delete')
      expect(deleted?.body).toEqual({ ids: ['doc-0'], namespace: '__default__' })
      const list = pinecone.requests.find((r) => r.path === '/vectors/list')
      expect(list?.query.get('namespace')).toBe('__default__')
    })

    it('checks the index dimension once per sink and paces every request', async () => {
      const pace = vi.fn(async () => {})
      const target = sink({ pace })
      await target.upsertDocuments(docs(1))
      await target.upsertDocuments(docs(1))
      expect(paths().filter((p) => p === 'POST /describe_index_stats')).toHaveLength(1)
      expect(pace).toHaveBeenCalledTimes(pinecone.requests.length)
    })
  })

  describe('errors', () => {
    it('never follows a redirect, so the API key stays with the configured hosts', async () => {
      const elsewhere = await startFakePinecone()
      try {
        pinecone.fail({
          kind: 'respond',
          status: 307,
          path: '/vectors/upsert',
          headers: { location: `${elsewhere.url}/vectors/upsert` },
        })
        const result = await sink().upsertDocuments(docs(2))
        expect(result).toMatchObject({ ok: false, reason: 'bad-request', status: 307 })
        pinecone.fail({
          kind: 'respond',
          status: 301,
          path: '/vectors/list',
          headers: { location: `${elsewhere.url}/vectors/list` },
        })
        expect(await sink().listPage('doc-', undefined)).toMatchObject({ ok: false, status: 301 })
        expect(elsewhere.requests).toHaveLength(0)
        expect(pinecone.vectors('').size).toBe(0)
      } finally {
        await elsewhere.close()
      }
    })

    it('refuses to write when the index dimension differs from the model', async () => {
      const small = await startFakePinecone({ dimension: 8 })
      try {
        const target = pineconeSinkOn(small)
        const check = await target.checkIndex()
        expect(check).toMatchObject({ ok: false, reason: 'dimension-mismatch' })
        const result = await target.upsertDocuments(docs(2))
        expect(result).toMatchObject({ ok: false, reason: 'dimension-mismatch' })
        expect(small.requests.filter((r) => r.path === '/vectors/upsert')).toHaveLength(0)
      } finally {
        await small.close()
      }
    })

    it('reports a 429 as rate-limited with its Retry-After, without retrying it', async () => {
      pinecone.fail({
        kind: 'respond',
        path: '/vectors/upsert',
        status: 429,
        headers: { 'retry-after': '3' },
        body: { code: 8, message: 'Too many requests', details: [] },
        times: 1,
      })
      const onThrottle = vi.fn()
      const result = await sink({ maxRetries: 3, onThrottle, now: () => 5000 }).upsertDocuments(
        docs(2),
      )
      expect(result).toMatchObject({ ok: false, reason: 'rate-limited', retryAfterMs: 3000 })
      expect(paths().filter((p) => p === 'POST /vectors/upsert')).toHaveLength(1)
      expect(onThrottle).toHaveBeenCalledWith(8000)
    })

    it('reports persistent 5xx as unavailable after its retries, pacing each', async () => {
      pinecone.fail({
        kind: 'respond',
        path: '/embed',
        status: 500,
        body: { message: 'x' },
        times: 10,
      })
      const pace = vi.fn(async () => {})
      const result = await sink({ maxRetries: 1, pace }).checkIndex()
      expect(result).toMatchObject({ ok: false, reason: 'unavailable', status: 500 })
      expect(paths()).toEqual(['POST /describe_index_stats', 'POST /embed', 'POST /embed'])
      expect(pace).toHaveBeenCalledTimes(3)
    })

    it('reports a wrong key as unauthorized without the key', async () => {
      const result = await sink({ apiKey: 'pc-secret-wrong' }).upsertDocuments(docs(1))
      assert(!result.ok)
      expect(result.reason).toBe('unauthorized')
      expect(result.message).not.toContain('pc-secret-wrong')
    })

    it('reports time-outs and dropped connections', async () => {
      pinecone.fail({ kind: 'hang', path: '/describe_index_stats', times: 1 })
      expect(await sink({ timeoutMs: 100 }).checkIndex()).toMatchObject({ reason: 'timeout' })
      pinecone.fail({ kind: 'drop', path: '/describe_index_stats', times: 1 })
      expect(await sink().checkIndex()).toMatchObject({ reason: 'network' })
    })

    it('hands the caller’s signal to the pace and stops a hanging request when it aborts', async () => {
      const pace = vi.fn(async (_signal?: AbortSignal) => {})
      const target = sink({ pace })
      const controller = new AbortController()
      expect(await target.upsertDocuments(docs(2), controller.signal)).toEqual({
        ok: true,
        written: 2,
      })
      expect(pace.mock.calls.map(([signal]) => signal)).toEqual(
        pinecone.requests.map(() => controller.signal),
      )
      pinecone.fail({ kind: 'hang', path: '/vectors/upsert', times: 1 })
      const stopped = await target.upsertDocuments(docs(1), AbortSignal.timeout(100))
      expect(stopped).toMatchObject({ ok: false, reason: 'timeout' })
      const sent = pinecone.requests.length
      const aborted = AbortSignal.abort(new Error('chunk stopped: lost'))
      expect(await target.deleteIds(['doc-0'], aborted)).toMatchObject({
        ok: false,
        reason: 'timeout',
      })
      expect(pinecone.requests).toHaveLength(sent)
    })

    it('reports a failed list page as a failure, never as a shorter list', async () => {
      pinecone.seedVectors(
        Array.from({ length: 150 }, (_, n) => ({ id: `jira-OPS-${n}`, values: [0.1] })),
      )
      let calls = 0
      const pace = vi.fn(async () => {
        calls += 1
        if (calls === 2) {
          pinecone.fail({ kind: 'respond', path: '/vectors/list', status: 503, times: 1 })
        }
      })
      const result = await sink({ pace }).listIds('jira-OPS-')
      expect(result).toMatchObject({ ok: false, reason: 'unavailable' })
      expect(pinecone.requests.filter((r) => r.path === '/vectors/list')).toHaveLength(2)
    })

    it('reports a 2xx body that is not JSON, or not the shape asked for, as an invalid response', async () => {
      pinecone.fail({ kind: 'respond', path: '/describe_index_stats', status: 200, body: 'x{' })
      expect(await sink().checkIndex()).toMatchObject({ ok: false, reason: 'invalid-response' })
      pinecone.fail({ kind: 'respond', path: '/embed', status: 200, body: { data: 'none' } })
      expect(await sink().checkIndex()).toMatchObject({ ok: false, reason: 'invalid-response' })
    })

    it('reports a refused upsert as bad-request with the reason', async () => {
      pinecone.fail({
        kind: 'respond',
        path: '/vectors/upsert',
        status: 400,
        body: {
          code: 3,
          message: 'Vector dimension 3 does not match the dimension of the index 1024',
          details: [],
        },
        times: 1,
      })
      const result = await sink().upsertDocuments(docs(1))
      assert(!result.ok)
      expect(result.reason).toBe('bad-request')
      expect(result.message).toContain('does not match the dimension')
    })
  })
})
