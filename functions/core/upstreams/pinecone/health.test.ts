import { describe, expect, it } from 'vitest'
import type { FakePinecone } from '#sandbox/fakes/pinecone.ts'
import { useFakePinecone } from '#test/fakes.ts'
import { pineconeSinkOn } from '#test/upstreams.ts'
import { pineconeCheck } from './health.ts'

const matching = useFakePinecone()
const small = useFakePinecone({ dimension: 8 })

const sinkOn = (fake: FakePinecone, apiKey = fake.apiKey) => pineconeSinkOn(fake, { apiKey })

describe('pinecone health check', () => {
  it('passes when the index is reachable and its dimension is the model’s', async () => {
    expect(await pineconeCheck(sinkOn(matching)).run()).toEqual({
      ok: true,
      details: { dimension: 1024 },
    })
  })

  it('fails on a dimension mismatch, a refused key, or missing settings', async () => {
    expect(await pineconeCheck(sinkOn(small)).run()).toEqual({
      ok: false,
      details: { error: 'dimension-mismatch' },
    })
    const refused = await pineconeCheck(sinkOn(matching, 'wrong-key')).run()
    expect(refused).toEqual({ ok: false, details: { error: 'unauthorized' } })
    expect(JSON.stringify(refused)).not.toContain('wrong-key')
    expect(await pineconeCheck(undefined).run()).toMatchObject({ ok: false })
  })

  it('asks the model for its dimension once per sink', async () => {
    const sink = sinkOn(matching)
    await sink.checkIndex()
    const before = matching.requests.filter((r) => r.path === '/embed').length
    await sink.checkIndex()
    expect(matching.requests.filter((r) => r.path === '/embed').length).toBe(before)
  })
})
