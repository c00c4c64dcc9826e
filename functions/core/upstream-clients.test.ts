import { describe, expect, it } from 'vitest'
import type { Pacer } from '#core/rate-limit/pacer.ts'
import { testConfig } from '#test/config.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { createUpstreams } from './upstream-clients.ts'

const jira = useFakeJira()
const tempo = useFakeTempo()
const pinecone = useFakePinecone()

describe('upstream clients', () => {
  it('pace every call through the shared pacer with the caller’s abort signal', async () => {
    const acquired: Array<[string, AbortSignal | undefined]> = []
    const pacer: Pacer = {
      acquire: async (upstream, signal) => {
        acquired.push([upstream, signal])
      },
      pauseUntil: async () => {},
      pausedUntil: async () => 0,
    }
    const upstreams = createUpstreams(testConfig(upstreamEnv({ jira, tempo, pinecone })), pacer)
    const signal = new AbortController().signal
    expect(await upstreams.jira?.listProjects(signal)).toMatchObject({ ok: true })
    expect(await upstreams.jira?.issuesByIds(['10001'], ['key'], signal)).toMatchObject({
      ok: true,
    })
    expect(await upstreams.tempo?.listWorklogs({}, signal)).toMatchObject({ ok: true })
    expect(await upstreams.pinecone?.deleteIds(['tempo-1'], signal)).toEqual({ ok: true })
    expect(acquired).toEqual([
      ['jira', signal],
      ['jira-search', signal], // Jira's search endpoint has a budget of its own
      ['tempo', signal],
      ['pinecone', signal],
    ])
  })
})
