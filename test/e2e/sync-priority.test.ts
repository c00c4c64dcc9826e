// A daily sync is not starved by an older ten-year backfill (122 Tempo windows): the syncs' chunks
// are claimed before the backfill's that were due earlier.
import { beforeEach, describe, expect, it } from 'vitest'
import type { DoContext } from '#core/platform/do-event.ts'
import { aJiraIssue, jiraTimestamp } from '#sandbox/fakes/jira-data.ts'
import { useTestDatabase } from '#test/database.ts'
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

/**
 * An invocation whose time runs out once Tempo has answered `requests` more requests (each chunk
 * of these jobs asks Tempo once): how much it does depends on the work, not on the machine's speed.
 */
function invocationOf(requests: number): DoContext {
  const until = tempo.requests.length + requests
  return {
    activationId: `act-${until}`,
    getRemainingTimeInMillis: () => (tempo.requests.length < until ? 60_000 : 0),
  }
}

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
    // A first invocation works through five of the backfill's windows: the fifth ends with its
    // page, when the time is up, and goes back to the queue.
    await world.worker({}, invocationOf(5))
    const { pool } = getDatabase()
    const before = await pool.query<{ at: Date; started: number; done: number }>(
      `select now() as at, count(*) filter (where started_at is not null)::int as started,
         count(*) filter (where status = 'succeeded')::int as done
       from job_chunks where job_id = $1`,
      [backfill.id],
    )
    expect(before.rows[0]).toMatchObject({ started: 5, done: 4 })

    world.clock.set('2025-07-01T06:30:00.000Z')
    const daily = await world.daily()
    expect(daily).toHaveLength(2)
    // Time for four Tempo requests: the two of sync-tempo's chunks (sync-jira asks Tempo nothing),
    // then two more windows (the one given back only has its check left, which asks Tempo nothing).
    await world.worker({}, invocationOf(4))
    const claimed = await pool.query<{ kind: string }>(
      `select j.kind from job_chunks c join jobs j on j.id = c.job_id
       where c.started_at > $1 order by c.started_at, c.seq`,
      [before.rows[0]?.at],
    )
    const order = claimed.rows.map((row) => row.kind)
    expect(order.slice(0, 3).sort()).toEqual(['sync-jira', 'sync-tempo', 'sync-tempo'])
    expect(order.slice(3)).toEqual(['backfill-tempo', 'backfill-tempo'])
    const syncs = await Promise.all(daily.map((id) => world.services.jobs.getJob(id)))
    expect(syncs.map((job) => job?.status)).toEqual(['succeeded', 'succeeded'])
  })
})
