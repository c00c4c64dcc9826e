// Upstream changes under the Jira pipeline, end to end: from a synced state, Jira changes (a project
// renamed, a key scan cut short, a mass deletion, an edit racing a backfill, 429s that say nothing),
// the real functions run backfill and sync, and Pinecone and tempo_worklogs are compared with the
// fakes' own truth: nothing lost, stale or doubled.
import { assert, beforeEach, describe, expect, it } from 'vitest'
import { runWorker } from '#core/jobs/engine.ts'
import { tempoWorklogs } from '#db/schema.ts'
import {
  aJiraIssue,
  type JiraIssue,
  type JiraProject,
  jiraTimestamp,
} from '#sandbox/fakes/jira-data.ts'
import { sampleWorklogs } from '#sandbox/fakes/tempo-data.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import {
  activate,
  clearStores,
  createWorld,
  expectJiraInSync,
  expectTempoInSync,
  FAST_ENGINE,
  jiraVectors,
  tempoTruth,
} from './world.ts'

const getDatabase = useTestDatabase({ poolMax: 8 })
const NOW = '2025-06-30T12:00:00.000Z'
const NOW_MS = Date.parse(NOW)
const jira = useFakeJira({ now: NOW })
const tempo = useFakeTempo()
const pinecone = useFakePinecone()
const fakes = { jira, tempo, pinecone }

const BETA: JiraProject = { id: '20001', key: 'BETA', name: 'Beta' }
const OPS: JiraProject = { id: '20002', key: 'OPS', name: 'Ops' }

/** `count` issues of `project`, updated an hour apart in the days before now. */
function issuesOf(project: JiraProject, count: number, firstId: number): JiraIssue[] {
  return Array.from({ length: count }, (_, n) =>
    aJiraIssue({
      id: String(firstId + n),
      key: `${project.key}-${n + 1}`,
      fields: { project, updated: jiraTimestamp(NOW_MS - (n + 1) * 3_600_000) },
    }),
  )
}

beforeEach(async () => {
  await clearStores(getDatabase())
})

describe('jira upstream changes, end to end', () => {
  it('moves a renamed project’s vectors and worklogs to the new key: the old key still finds it', async () => {
    const issues = [...issuesOf(BETA, 60, 300_001), ...issuesOf(OPS, 20, 400_001)]
    jira.setProjects([BETA, OPS])
    jira.setIssues(issues)
    const people = [issues[0]!.fields.assignee!.accountId, issues[0]!.fields.reporter!.accountId]
    tempo.setWorklogs(
      sampleWorklogs({
        seed: 12,
        count: 300,
        issues: issues.map((issue) => ({ id: issue.id, projectId: issue.fields.project.id })),
        accountIds: people,
        from: '2025-03-01',
        to: '2025-06-29',
      }),
    )
    await activate(getDatabase(), ['BETA', 'OPS'])
    const world = createWorld(getDatabase(), fakes, { now: NOW })
    const synced = [
      await world.backfill('jira', { days: 30 }),
      await world.backfill('tempo', { from: '2025-03-01', to: '2025-06-30' }),
    ]
    await world.runToEnd(synced.map((job) => job.id))
    expectJiraInSync(fakes, ['BETA', 'OPS'])
    await expectTempoInSync(getDatabase(), fakes, tempoTruth(fakes, ['BETA', 'OPS']))
    const rowsBefore = (await getDatabase().db.select().from(tempoWorklogs)).length

    // BETA becomes DELTA: same ids, new keys, `updated` unchanged; `projects` still says BETA.
    jira.renameProject('BETA', 'DELTA')
    world.clock.set('2025-07-01T06:30:00.000Z')
    const daily = await world.daily()
    const { jobs } = await world.runToEnd(daily)
    expect(jobs.map((job) => job.status)).toEqual(['succeeded', 'succeeded'])
    // The sync alone moves every Jira vector, and deletes no worklog.
    expectJiraInSync(fakes, ['DELTA', 'OPS'])
    expect((await getDatabase().db.select().from(tempoWorklogs)).length).toBe(rowsBefore)

    const again = [
      await world.backfill('jira', { days: 30, projects: ['BETA', 'OPS'] }),
      await world.backfill('tempo', { from: '2025-03-01', to: '2025-06-30' }),
    ]
    const ended = await world.runToEnd(again.map((job) => job.id))
    expect(ended.jobs.map((job) => job.status)).toEqual(['succeeded', 'succeeded'])
    expectJiraInSync(fakes, ['DELTA', 'OPS'])
    await expectTempoInSync(getDatabase(), fakes, tempoTruth(fakes, ['DELTA', 'OPS']))
    // Named by its old key, the project made one chunk.
    expect(again[0]?.progress.chunksTotal).toBe(2)
  })

  it('never reads a key scan cut short as complete: nothing is deleted, the retry finishes it', async () => {
    jira.setProjects([OPS])
    jira.setIssues(issuesOf(OPS, 500, 500_001))
    await activate(getDatabase(), ['OPS'])
    tempo.setWorklogs([])
    const world = createWorld(getDatabase(), fakes, { now: NOW, keyPageSize: 100 })
    const first = await world.backfill('jira', { days: 30 })
    await world.runToEnd([first.id])
    expectJiraInSync(fakes, ['OPS'])

    // The next key scan's first page says "not the last" but carries no token.
    let cut = false
    jira.onSearchPage(({ jql, page }) => {
      if (!cut && page === 1 && jql.endsWith('ORDER BY key ASC')) {
        cut = true
        jira.truncateSearch(1)
      }
    })
    world.clock.set('2025-07-01T06:30:00.000Z')
    const { jobs } = await world.runToEnd(await world.daily())
    expect(cut).toBe(true)
    expect(jobs[0]?.status).toBe('succeeded')
    expect(pinecone.requests.filter((r) => r.path === '/vectors/delete')).toEqual([])
    expectJiraInSync(fakes, ['OPS'])
    const attempts = await getDatabase().pool.query<{ attempts: number }>(
      `select c.attempts from job_chunks c join jobs j on j.id = c.job_id where j.kind = 'sync-jira'`,
    )
    expect(attempts.rows[0]?.attempts).toBe(2)
  })

  it('holds a mass deletion with a warning in the job view until a start confirms it', async () => {
    jira.setProjects([OPS])
    jira.setIssues(issuesOf(OPS, 100, 600_001))
    await activate(getDatabase(), ['OPS'])
    tempo.setWorklogs([])
    const world = createWorld(getDatabase(), fakes, { now: NOW })
    await world.runToEnd([(await world.backfill('jira', { days: 30 })).id])
    for (let n = 1; n <= 40; n += 1) {
      jira.deleteIssue(`OPS-${n}`)
    }
    const held = await world.backfill('jira', { days: 30 })
    await world.runToEnd([held.id])
    const view = await world.view('jira', held.id)
    expect(view.status).toBe('succeeded')
    expect(view.progress.warnings).toEqual([
      expect.stringMatching(/^Held back 40 deletions of project OPS \(40% of 100 stored/),
    ])
    expect(pinecone.vectors('').size).toBe(100)

    const confirmed = await world.backfill('jira', { days: 30, confirmDeletions: true })
    expect(confirmed.params).toMatchObject({ confirmDeletions: true })
    await world.runToEnd([confirmed.id])
    expect((await world.view('jira', confirmed.id)).progress.warnings).toEqual([])
    expectJiraInSync(fakes, ['OPS'])
    expect(pinecone.vectors('').size).toBe(60)
  })

  it('keeps the newest version when an edit races a backfill that read the issue before it', async () => {
    jira.setProjects([OPS])
    jira.setIssues(issuesOf(OPS, 30, 700_001))
    await activate(getDatabase(), ['OPS'])
    tempo.setWorklogs([])
    const world = createWorld(getDatabase(), fakes, { now: NOW })
    await world.runToEnd([(await world.backfill('jira', { days: 30 })).id])

    // The backfill reads the issues, then its first upsert is held back…
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let holding = false
    const reachedUpsert = new Promise<void>((resolve) => {
      pinecone.onRequest(async (req) => {
        if (req.path === '/vectors/upsert' && !holding) {
          holding = true
          resolve()
          await released
        }
      })
    })
    const backfill = await world.backfill('jira', { days: 30 })
    const running = world.runToEnd([backfill.id], 60_000)
    await reachedUpsert
    // …while the issue is edited and the daily sync writes the new version.
    jira.setNow(new Date(NOW_MS + 60_000))
    jira.updateIssue('OPS-5', { summary: 'Edited while the backfill wrote' })
    world.clock.set(new Date(NOW_MS + 120_000))
    await world.runToEnd(await world.daily())
    expect(pinecone.vectors('').get('jira-OPS-5')?.metadata?.title).toBe(
      'OPS-5: Edited while the backfill wrote',
    )
    release()
    const { jobs } = await running
    expect(jobs[0]?.status).toBe('succeeded')
    // The older write landed after the newer one, and was repaired.
    const writesOf = (title: string) =>
      pinecone.requests.filter(
        (r) => r.path === '/vectors/upsert' && JSON.stringify(r.body).includes(title),
      ).length
    expect(writesOf('OPS-5: Summary of OPS-5')).toBeGreaterThanOrEqual(1)
    expect(writesOf('OPS-5: Edited while the backfill wrote')).toBeGreaterThanOrEqual(2)
    expectJiraInSync(fakes, ['OPS'])
  })

  it('writes, deletes and checkpoints nothing under a lease that expired mid-page, then ends in sync', async () => {
    jira.setProjects([BETA])
    jira.setIssues(issuesOf(BETA, 30, 900_001))
    await activate(getDatabase(), ['BETA'])
    tempo.setWorklogs([])
    const world = createWorld(getDatabase(), fakes, { now: NOW })
    await world.runToEnd([(await world.backfill('jira', { days: 30 })).id])
    const synced = jiraVectors(pinecone)
    // BETA becomes DELTA: every vector has to move, its old id deleted once the new one is written.
    jira.renameProject('BETA', 'DELTA')
    const job = await world.backfill('jira', { days: 30 })
    // The database's clock passes the chunk's lease while Jira answers the first searches (the
    // first page and the reconcile's key scan beside it), before any heartbeat; no other worker
    // claims the chunk meanwhile.
    const { pool } = getDatabase()
    let expiring: Promise<unknown> | undefined
    jira.onRequest(async (req) => {
      if (req.path === '/rest/api/3/search/jql' && req.query.has('jql')) {
        expiring ??= pool.query(
          `update job_chunks set lease_expires_at = now() - interval '1 second'
           where job_id = $1 and status = 'running'`,
          [job.id],
        )
        await expiring
      }
    })
    const sinkWrites = () =>
      pinecone.requests.filter((r) => r.path === '/vectors/upsert' || r.path === '/vectors/delete')
        .length
    const writesBefore = sinkWrites()
    const jobs = world.services.jobs
    let claimed = false
    const summary = await runWorker({
      ...FAST_ENGINE,
      // One attempt, then nothing: the chunk the lease expired on is not claimed again here.
      jobs: {
        ...jobs,
        claim: async (options) => {
          if (claimed) {
            return null
          }
          claimed = true
          return jobs.claim(options)
        },
      },
      registry: world.registry,
      log: world.services.log,
      remainingMs: () => 60_000,
    })
    jira.onRequest(undefined)
    expect(expiring).toBeDefined()
    expect(summary).toMatchObject({ pages: 0, outcomes: { lost: 1, succeeded: 0 } })
    expect(jiraVectors(pinecone)).toEqual(synced)
    expect(sinkWrites()).toBe(writesBefore)
    const chunk = await pool.query(
      'select status, cursor, items_fetched::int as fetched from job_chunks where job_id = $1',
      [job.id],
    )
    expect(chunk.rows).toEqual([{ status: 'running', cursor: null, fetched: 0 }])
    const keys = await pool.query(`select 1 from jira_issue_keys where issue_key like 'DELTA-%'`)
    expect(keys.rowCount).toBe(0)

    // The next worker takes the chunk over from its last checkpoint (none) and ends in sync.
    const { jobs: ended } = await world.runToEnd([job.id])
    expect(ended[0]?.status).toBe('succeeded')
    expectJiraInSync(fakes, ['DELTA'])
  })

  it('backs off on 429s whose Retry-After is absent or 0 and whose reset is past, and ends in sync', async () => {
    jira.setProjects([OPS])
    jira.setIssues(issuesOf(OPS, 40, 800_001))
    await activate(getDatabase(), ['OPS'])
    tempo.setWorklogs([])
    const world = createWorld(getDatabase(), fakes, { now: NOW })
    await world.runToEnd([(await world.backfill('jira', { days: 30 })).id])
    jira.setNow(new Date(NOW_MS + 60_000))
    jira.updateIssue('OPS-7', { summary: 'Edited before the throttled sync' })
    jira.rateLimit({ retryAfterSeconds: 0, times: 3 })
    jira.rateLimit({ retryAfterSeconds: null, times: 3 })
    world.clock.set(new Date(NOW_MS + 120_000))
    const { jobs } = await world.runToEnd(await world.daily())
    expect(jobs[0]?.status).toBe('succeeded')
    const throttled = jira.requests.filter((r) => r.path === '/rest/api/3/search/jql')
    expect(throttled.length).toBeGreaterThanOrEqual(6)
    expectJiraInSync(fakes, ['OPS'])
    // The engine's retries after them waited: no retry was due at once.
    const retried = await getDatabase().pool.query<{ attempts: number }>(
      `select c.attempts from job_chunks c join jobs j on j.id = c.job_id where j.kind = 'sync-jira'`,
    )
    assert(retried.rows[0])
    expect(retried.rows[0].attempts).toBeGreaterThanOrEqual(2)
  })
})
