import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testConfig } from '#test/config.ts'
import { type FakeJira, startFakeJira } from '#test/fakes/jira.ts'
import { type FakePinecone, startFakePinecone } from '#test/fakes/pinecone.ts'
import { type FakeTempo, startFakeTempo } from '#test/fakes/tempo.ts'
import type { Pacer, Upstream } from '../pace.ts'
import { createUpstreams } from './services.ts'

let jira: FakeJira
let tempo: FakeTempo
let pinecone: FakePinecone

beforeAll(async () => {
  ;[jira, tempo, pinecone] = await Promise.all([
    startFakeJira(),
    startFakeTempo(),
    startFakePinecone(),
  ])
})
afterAll(async () => {
  await Promise.all([jira.close(), tempo.close(), pinecone.close()])
})

describe('upstream clients', () => {
  it('pace every call through the shared pacer with the caller’s abort signal', async () => {
    const acquired: Array<[Upstream, AbortSignal | undefined]> = []
    const pacer: Pacer = {
      acquire: async (upstream, signal) => {
        acquired.push([upstream, signal])
      },
      pauseUntil: async () => {},
      pausedUntil: async () => 0,
    }
    const upstreams = createUpstreams(
      testConfig({
        JIRA_BASE_URL: jira.url,
        JIRA_EMAIL: jira.email,
        JIRA_API_TOKEN: jira.apiToken,
        TEMPO_BASE_URL: tempo.url,
        TEMPO_API_TOKEN: tempo.apiToken,
        PINECONE_API_KEY: pinecone.apiKey,
        PINECONE_INDEX_HOST: pinecone.url,
        PINECONE_CONTROLLER_URL: pinecone.url,
      }),
      pacer,
    )
    const signal = new AbortController().signal
    expect(await upstreams.jira?.listProjects(signal)).toMatchObject({ ok: true })
    expect(await upstreams.tempo?.listWorklogs({}, signal)).toMatchObject({ ok: true })
    expect(await upstreams.pinecone?.deleteIds(['tempo-1'], signal)).toEqual({ ok: true })
    expect(acquired).toEqual([
      ['jira', signal],
      ['tempo', signal],
      ['pinecone', signal],
    ])
  })
})
