import { describe, expect, it } from 'vitest'
import { aJiraIssue } from '#sandbox/fakes/jira-data.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { testServices } from '#test/services.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { createJobKinds } from './registry.ts'

const getDatabase = useTestDatabase()
const jira = useFakeJira()
const pinecone = useFakePinecone()
const tempo = useFakeTempo()

function kinds(options: { planTimeoutMs?: number }) {
  const services = testServices({
    database: getDatabase(),
    env: upstreamEnv({ jira, pinecone, tempo }),
  })
  const byName = new Map(createJobKinds(services, options).map((kind) => [kind.kind, kind]))
  return (name: string) => {
    const kind = byName.get(name)
    expect(kind, name).toBeDefined()
    return kind!
  }
}

describe('createJobKinds', () => {
  it('registers the Jira and Tempo backfills and syncs', () => {
    const kind = kinds({})
    for (const name of ['backfill-jira', 'sync-jira', 'backfill-tempo', 'sync-tempo']) {
      expect(kind(name).kind).toBe(name)
    }
  })

  it("passes the caller's planning deadline to the Jira kinds (jobs/sync waits longer than a web start)", async () => {
    jira.setIssues([aJiraIssue({ key: 'OPS-1' })])
    jira.fail({ kind: 'delay', path: '/rest/api/3/project/search', delayMs: 600 })
    await expect(kinds({ planTimeoutMs: 150 })('sync-jira').plan({})).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    })
    jira.fail({ kind: 'delay', path: '/rest/api/3/project/search', delayMs: 600 })
    const scopes = await kinds({ planTimeoutMs: 5_000 })('sync-jira').plan({})
    expect(scopes).toEqual([expect.objectContaining({ project: 'OPS' })])
  })
})
