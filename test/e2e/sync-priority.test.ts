// A daily sync is not starved by an older ten-year backfill (122 Tempo windows): the syncs' chunks
// are claimed before the backfill's that were due earlier.
import { beforeEach, describe, expect, it } from 'vitest'
import { aJiraIssue, jiraTimestamp } from '#sandbox/fakes/jira-data.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext } from '#test/events.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { activate, clearStores, createWorld } from './world.ts'

const getDatabase = useTestDatabase({ poolMax: 6 })
const NOW = '2025-06-30T12:00:00.000Z'
const jira = useFakeJira({ now: NOW })
const tempo = useFakeTempo()
const pinecone = useFakePinecone()

beforeEach(async () => {
  await clearStores(getDatabase())
})

describe('sync priority, end to end', () => {
  it('claims the daily syncs before the chunks of an older ten-year backfill', async () => {
    const project = { id: '20002', key: 'OPS', name: 'Ops' }
    jira.setProjects([project])
    jira.setIssues([
      aJiraIssue({ key: 'OPS-1', fields: { project, updated: jiraTimestamp(Date.parse(NOW)) } }),
    ])
    tempo.setWorklogs([])
    await activate(getDatabase(), ['OPS'])
    const world = createWorld(getDatabase(), { jira, tempo, pinecone }, { now: NOW })
    const backfill = await world.backfill('tempo', { days: 3650 })
    expect(backfill.progress.chunksTotal).toBe(122)
    // A first invocation works through a few of the backfill's windows.
    await world.worker({}, aContext(1_000))
    const { pool } = getDatabase()
    const before = await pool.query<{ at: Date; done: number }>(
      `select now() as at, count(*) filter (where started_at is not null)::int as done
       from job_chunks where job_id = $1`,
      [backfill.id],
    )
    const startedBefore = before.rows[0]?.done ?? 0
    expect(startedBefore).toBeGreaterThan(0)
    expect(startedBefore).toBeLessThan(122)

    world.clock.set('2025-07-01T06:30:00.000Z')
    const daily = await world.daily()
    expect(daily).toHaveLength(2)
    await world.worker({}, aContext(2_000))
    const claimed = await pool.query<{ kind: string }>(
      `select j.kind from job_chunks c join jobs j on j.id = c.job_id
       where c.started_at > $1 order by c.started_at, c.seq`,
      [before.rows[0]?.at],
    )
    const order = claimed.rows.map((row) => row.kind)
    expect(order.length).toBeGreaterThan(3)
    expect(order.slice(0, 3).sort()).toEqual(['sync-jira', 'sync-tempo', 'sync-tempo'])
    expect(order.slice(3).every((kind) => kind === 'backfill-tempo')).toBe(true)
  })
})
