import { describe, expect, it } from 'vitest'
import { aJiraIssue } from '#sandbox/fakes/jira-data.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { testServices } from '#test/services.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { createPipelineRegistry } from './registry.ts'

const getDatabase = useTestDatabase()
const jira = useFakeJira()
const pinecone = useFakePinecone()
const tempo = useFakeTempo()

function kinds(options: { planTimeoutMs?: number }) {
  const services = testServices({
    database: getDatabase(),
    env: upstreamEnv({ jira, pinecone, tempo }),
  })
  const registry = createPipelineRegistry(services, options)
  return (name: string) => {
    const kind = registry.get(name)
    expect(kind, name).toBeDefined()
    return kind!
  }
}

describe('createPipelineRegistry', () => {
  it('registers the Jira and Tempo backfills and syncs, and a daily run of each sync', () => {
    const services = testServices({
      database: getDatabase(),
      env: upstreamEnv({ jira, pinecone, tempo }),
    })
    const registry = createPipelineRegistry(services)
    expect([...registry.names].sort()).toEqual([
      'backfill-jira',
      'backfill-tempo',
      'sync-jira',
      'sync-tempo',
    ])
    expect(registry.dailySyncs.map((sync) => sync.kind).sort()).toEqual(['sync-jira', 'sync-tempo'])
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
