// The reconcile of a large project under the real worker budget: 200,000 issues, a slow Pinecone
// listing and a slow Jira, and the engine's margins scaled down by the same factor as the budget.
// The daily sync finishes over several invocations, each continuing from the checkpoint the last
// one left (the key scan's token, then Pinecone's pagination token), and deletes exactly what Jira
// deleted.
import { beforeEach, describe, expect, it } from 'vitest'
import { aJiraIssue, type JiraIssue, jiraTimestamp } from '#sandbox/fakes/jira-data.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext } from '#test/events.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { activate, clearStores, createWorld } from './world.ts'

const getDatabase = useTestDatabase({ poolMax: 4 })
const NOW = '2025-06-30T12:00:00.000Z'
const NOW_MS = Date.parse(NOW)
const ISSUES = 200_000
const DELETED = 50
const jira = useFakeJira({ now: NOW })
const tempo = useFakeTempo()
const pinecone = useFakePinecone()

// Production: a 180 s invocation and a 20 s margin. Here: the same proportion at a hundredth. The
// lease is longer than a hundredth of a minute: the fakes share this process, and sorting 200,000
// issues holds up its timers, heartbeats included.
const BUDGET_MS = 1_800
const ENGINE = { marginMs: 200, leaseMs: 3_000, heartbeatMs: 1_000 }

const project = { id: '30001', key: 'BIG', name: 'Big' }

function bigProject(): JiraIssue[] {
  const base = aJiraIssue({
    key: 'BIG-1',
    fields: { project, description: null, updated: jiraTimestamp(NOW_MS - 30 * 86_400_000) },
  })
  return Array.from({ length: ISSUES }, (_, n) => ({
    id: String(1_000_001 + n),
    key: `BIG-${n + 1}`,
    self: base.self,
    fields: { ...base.fields, summary: `Issue ${n + 1}` },
  }))
}

beforeEach(async () => {
  await clearStores(getDatabase())
})

describe('reconcile of a large project, end to end', () => {
  it('finishes in checkpointed batches over several invocations and deletes exactly what Jira deleted', async () => {
    jira.setProjects([project])
    jira.loadIssues(bigProject())
    tempo.setWorklogs([])
    // The synced state: one vector per issue, and a watermark an hour old (nothing changed since).
    pinecone.seedVectors(
      Array.from({ length: ISSUES }, (_, n) => ({ id: `jira-BIG-${n + 1}`, values: [0.1] })),
    )
    await activate(getDatabase(), ['BIG'])
    await getDatabase().pool.query(
      `insert into sync_state (source, scope, watermark) values ('jira', $1, $2)`,
      [project.id, new Date(NOW_MS - 3_600_000)],
    )
    const deleted = Array.from({ length: DELETED }, (_, n) => `BIG-${1 + n * 3_997}`)
    for (const key of deleted) {
      jira.deleteIssue(key)
    }
    jira.setLatency(20, '/rest/api/3/search/jql')
    pinecone.setLatency(2, '/vectors/list')

    const world = createWorld(
      getDatabase(),
      { jira, tempo, pinecone },
      { now: NOW, engine: ENGINE },
    )
    const jobIds = await world.daily()
    const jiraJob = (await world.services.jobs.getJob(jobIds[0] ?? ''))!
    expect(jiraJob.kind).toBe('sync-jira')
    const checkpoints: string[] = []
    let invocations = 0
    for (; invocations < 200; invocations += 1) {
      const summary = (await world.worker({}, aContext(BUDGET_MS))) as { stoppedBy: string }
      const chunk = await getDatabase().pool.query<{ status: string; cursor: unknown }>(
        `select c.status, c.cursor from job_chunks c where c.job_id = $1`,
        [jiraJob.id],
      )
      const row = chunk.rows[0]
      if (row?.status === 'succeeded') {
        break
      }
      // Between invocations the chunk waits with its checkpoint: where in the reconcile it is.
      const reconcile = (row?.cursor as { reconcile?: Record<string, unknown> } | null)?.reconcile
      if (reconcile) {
        checkpoints.push(
          `${String(reconcile.step)}:${reconcile.keyToken ? 'key-token' : ''}${reconcile.listToken ? 'list-token' : ''}`,
        )
      }
      expect(summary.stoppedBy, JSON.stringify(row)).toBe('time')
    }
    const done = await world.services.jobs.getJob(jiraJob.id)
    expect(done?.status, JSON.stringify(done?.progress)).toBe('succeeded')
    expect(invocations).toBeGreaterThan(2)
    // The key scan and the listing each spanned invocations, continuing from their tokens.
    expect(checkpoints).toContain('keys:key-token')
    expect(checkpoints).toContain('count:list-token')
    expect(done?.progress.warnings).toEqual([])

    const stored = pinecone.vectors('')
    expect(stored.size).toBe(ISSUES - DELETED)
    expect(deleted.filter((key) => stored.has(`jira-${key}`))).toEqual([])
    const deletes = pinecone.requests.filter((r) => r.path === '/vectors/delete')
    const deletedIds = deletes.flatMap((r) => (r.body as { ids: string[] }).ids)
    // A step cut off by the budget after its delete is repeated: the same ids, never others.
    expect([...new Set(deletedIds)].sort()).toEqual(deleted.map((key) => `jira-${key}`).sort())
  }, 180_000)
})
