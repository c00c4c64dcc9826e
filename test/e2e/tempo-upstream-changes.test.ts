// Upstream changes under the Tempo pipeline, end to end: from a synced state, Tempo (or the way we
// reach it) changes — anonymised authors, a worklog we cannot parse, an edit racing a backfill, a
// worker that loses its lease, a versioned base URL, a next link to another host, a Pinecone
// redirect — and the real functions run backfill and sync; tempo_worklogs and Pinecone are then
// compared with the fakes' own truth.
import { setTimeout as sleep } from 'node:timers/promises'
import { eq } from 'drizzle-orm'
import { beforeEach, describe, expect, it } from 'vitest'
import { tempoWorklogs } from '#db/schema.ts'
import {
  aJiraIssue,
  aJiraUser,
  type JiraIssue,
  type JiraProject,
  jiraTimestamp,
} from '#sandbox/fakes/jira-data.ts'
import { startFakeServer } from '#sandbox/fakes/server.ts'
import {
  aWorklog,
  type FakeTempoWorklog,
  sampleWorklogs,
  TEMPO_ANONYMISED_ACCOUNT,
} from '#sandbox/fakes/tempo-data.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext } from '#test/events.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { createWorkerHandler } from '../../functions/jobs/worker/handler.ts'
import {
  activate,
  clearStores,
  createWorld,
  expectTempoInSync,
  tempoTruth,
  type WorldOptions,
} from './world.ts'

const getDatabase = useTestDatabase({ poolMax: 8 })
const NOW = '2025-06-30T12:00:00.000Z'
const NOW_MS = Date.parse(NOW)
const RANGE = { from: '2025-04-01', to: '2025-06-30' }
const jira = useFakeJira({ now: NOW })
const tempo = useFakeTempo()
const pinecone = useFakePinecone()
const fakes = { jira, tempo, pinecone }

const OPS: JiraProject = { id: '20002', key: 'OPS', name: 'Ops' }
const ada = aJiraUser({ accountId: 'acc-ada', displayName: 'Ada Lovelace' })
const grace = aJiraUser({ accountId: 'acc-grace', displayName: 'Grace Hopper' })

function opsIssues(count: number): JiraIssue[] {
  return Array.from({ length: count }, (_, n) =>
    aJiraIssue({
      id: String(900_001 + n),
      key: `OPS-${n + 1}`,
      fields: {
        project: OPS,
        assignee: n % 2 === 0 ? ada : grace,
        reporter: ada,
        updated: jiraTimestamp(NOW_MS - (n + 1) * 3_600_000),
      },
    }),
  )
}

/** Jira with OPS and its issues; Tempo with `count` worklogs over RANGE, by Ada, Grace and anonymised authors. */
function given(count: number): FakeTempoWorklog[] {
  const issues = opsIssues(20)
  jira.setProjects([OPS])
  jira.setIssues(issues)
  const worklogs = sampleWorklogs({
    seed: 21,
    count,
    issues: issues.map((issue) => ({ id: issue.id, projectId: OPS.id })),
    accountIds: [ada.accountId, grace.accountId, TEMPO_ANONYMISED_ACCOUNT],
    from: RANGE.from,
    to: '2025-06-29',
  })
  tempo.setWorklogs(worklogs)
  return worklogs
}

async function synced(options: WorldOptions = {}) {
  await activate(getDatabase(), ['OPS'])
  const world = createWorld(getDatabase(), fakes, { now: NOW, ...options })
  const job = await world.backfill('tempo', RANGE)
  const { jobs } = await world.runToEnd([job.id])
  expect(jobs[0]?.status, JSON.stringify(jobs[0]?.progress)).toBe('succeeded')
  await expectTempoInSync(getDatabase(), fakes, tempoTruth(fakes, ['OPS']))
  return world
}

async function row(worklogId: number) {
  const [found] = await getDatabase()
    .db.select()
    .from(tempoWorklogs)
    .where(eq(tempoWorklogs.worklogId, String(worklogId)))
  return found
}

/** The part of a truth dated in June. */
function juneOf<T>(truth: Map<string, T>): Map<string, T> {
  const june = new Set(
    tempo
      .worklogs()
      .filter((w) => w.startDate >= '2025-06-01')
      .map((w) => String(w.tempoWorklogId)),
  )
  return new Map([...truth].filter(([id]) => june.has(id)))
}

beforeEach(async () => {
  await clearStores(getDatabase())
})

describe('tempo upstream changes, end to end', () => {
  it('stores anonymised authors under a fixed name and never asks Jira about them', async () => {
    const worklogs = given(120)
    expect(worklogs.some((w) => w.authorAccountId === TEMPO_ANONYMISED_ACCOUNT)).toBe(true)
    await synced()
    const anonymous = worklogs.find((w) => w.authorAccountId === TEMPO_ANONYMISED_ACCOUNT)!
    expect((await row(anonymous.tempoWorklogId))?.userDisplayName).toBe('Anonymised user')
    const asked = jira.requests
      .filter((r) => r.path === '/rest/api/3/user/bulk')
      .flatMap((r) => r.query.getAll('accountId'))
    expect(asked.length).toBeGreaterThan(0)
    expect(asked).not.toContain(TEMPO_ANONYMISED_ACCOUNT)
  })

  it('keeps and reports a worklog it cannot parse, and removes nothing while one has no readable id', async () => {
    const worklogs = given(150)
    const world = await synced()
    const broken = worklogs.find((w) => w.startDate >= '2025-06-20')!
    tempo.corruptWorklog(broken.tempoWorklogId)
    const before = await row(broken.tempoWorklogId)
    world.clock.set('2025-07-01T06:30:00.000Z')
    const daily = await world.runToEnd(await world.daily())
    const backfill = await world.backfill('tempo', RANGE)
    const { jobs } = await world.runToEnd([backfill.id])
    expect([...daily.jobs, ...jobs].map((job) => job.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ])
    expect(jobs[0]?.progress.itemsFailed).toBe(1)
    expect(await row(broken.tempoWorklogId)).toMatchObject({ hours: before?.hours })
    await expectTempoInSync(getDatabase(), fakes, tempoTruth(fakes, ['OPS']))

    // A worklog without a readable id might be any stored row: deletions in its window wait.
    const unreadable = worklogs.find((w) => w.startDate >= '2025-06-20' && w !== broken)!
    const deleted = worklogs.find(
      (w) => w.startDate >= '2025-06-01' && w !== broken && w !== unreadable,
    )!
    tempo.corruptWorklog(unreadable.tempoWorklogId, { withoutId: true })
    tempo.deleteWorklog(deleted.tempoWorklogId)
    const held = await world.backfill('tempo', { ...RANGE, from: '2025-06-01' })
    await world.runToEnd([held.id])
    const view = await world.view('tempo', held.id)
    // Two rows of June are unseen: the deleted one, and the unreadable one itself.
    expect(view.progress.warnings).toEqual([
      expect.stringContaining('Held back 2 deletions of worklogs dated 2025-06-01..2025-06-30'),
    ])
    expect(await row(deleted.tempoWorklogId)).toBeDefined()
    expect(await row(unreadable.tempoWorklogId)).toBeDefined()
  })

  it('keeps the newest hours when an edit races a backfill that read the worklog before it', async () => {
    const worklogs = given(80)
    const world = await synced()
    const raced = worklogs.find((w) => w.startDate >= '2025-06-20')!
    // A cold cache, so the backfill asks Jira for keys between reading Tempo and writing.
    await getDatabase().pool.query('delete from jira_issue_keys')
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let holding = false
    const reachedLookup = new Promise<void>((resolve) => {
      jira.onRequest(async (req) => {
        if (req.method === 'POST' && req.path === '/rest/api/3/search/jql' && !holding) {
          holding = true
          resolve()
          await released
        }
      })
    })
    const backfill = await world.backfill('tempo', { from: '2025-06-01', to: '2025-06-30' })
    const running = world.runToEnd([backfill.id], 60_000)
    await reachedLookup
    // Tempo's clock is the real one here: the daily sync asks for what changed since two days ago.
    tempo.setNow(new Date())
    tempo.editWorklog(raced.tempoWorklogId, { timeSpentSeconds: 3 * 3600 })
    world.clock.set('2025-07-01T06:30:00.000Z')
    await world.runToEnd(await world.daily())
    expect((await row(raced.tempoWorklogId))?.hours).toBe(3)
    release()
    const { jobs } = await running
    expect(jobs[0]?.status).toBe('succeeded')
    expect((await row(raced.tempoWorklogId))?.hours).toBe(3)
    expect(pinecone.vectors('').get(`tempo-${raced.tempoWorklogId}`)?.metadata?.hours_logged).toBe(
      3,
    )
    await expectTempoInSync(getDatabase(), fakes, tempoTruth(fakes, ['OPS']))
  })

  it('stops a worker that cannot renew its lease before another takes the chunk over', async () => {
    given(60)
    await activate(getDatabase(), ['OPS'])
    const world = createWorld(getDatabase(), fakes, { now: NOW, engine: { leaseMs: 1_200 } })
    const job = await world.backfill('tempo', { from: '2025-06-01', to: '2025-06-30' })
    // The first Tempo page takes longer than the lease; this worker's heartbeats fail.
    let held = true
    tempo.onRequest(async () => {
      while (held) {
        await sleep(20)
      }
    })
    const jobs = world.services.jobs
    const cutOff = createWorkerHandler({
      jobs: Object.assign(Object.create(null), jobs, {
        heartbeat: () => Promise.reject(new Error('database unreachable')),
      }) as typeof jobs,
      log: world.services.log,
      registry: world.registry,
      engine: { marginMs: 300, leaseMs: 1_200, heartbeatMs: 400 },
    })
    const summary = (await cutOff({}, aContext(20_000))) as { outcomes: Record<string, number> }
    expect(summary.outcomes).toMatchObject({ lost: 1, succeeded: 0 })
    held = false
    await sleep(1_300) // the lease the stopped worker held runs out
    const { jobs: ended } = await world.runToEnd([job.id])
    expect(ended[0]?.status).toBe('succeeded')
    await expectTempoInSync(getDatabase(), fakes, juneOf(tempoTruth(fakes, ['OPS'])))
  })

  it('reaches Tempo with the base URL as documented, with or without /4', async () => {
    given(60)
    await synced({ env: { TEMPO_BASE_URL: `${tempo.url}/4` } })
    expect(new Set(tempo.requests.map((r) => r.path))).toEqual(new Set(['/4/worklogs']))
  })

  it('follows next links only to Tempo: a link elsewhere fails the chunk, and nothing is lost', async () => {
    const elsewhere = await startFakeServer(() => ({ status: 200, body: { results: [] } }))
    try {
      given(60)
      const world = await synced({ tempo: { pageSize: 10 } })
      const stored = (await getDatabase().db.select().from(tempoWorklogs)).length
      tempo.setNextOrigin(elsewhere.url)
      const job = await world.backfill('tempo', RANGE)
      const { jobs } = await world.runToEnd([job.id])
      expect(jobs[0]?.status).toBe('failed')
      expect(jobs[0]?.progress.lastError).toBe('Tempo sent a next-page link outside the Tempo API.')
      expect(elsewhere.requests).toEqual([])
      expect((await getDatabase().db.select().from(tempoWorklogs)).length).toBe(stored)
      expect(pinecone.vectors('').size).toBe(stored)
    } finally {
      await elsewhere.close()
    }
  })

  it('never follows a Pinecone redirect: the chunk fails, a resume completes it', async () => {
    const elsewhere = await startFakeServer(() => ({ status: 200, body: {} }))
    try {
      given(60)
      await activate(getDatabase(), ['OPS'])
      const world = createWorld(getDatabase(), fakes, { now: NOW })
      pinecone.fail({
        kind: 'respond',
        status: 307,
        path: '/vectors/upsert',
        headers: { location: `${elsewhere.url}/vectors/upsert` },
        times: 1,
      })
      const job = await world.backfill('tempo', { from: '2025-06-01', to: '2025-06-30' })
      const first = await world.runToEnd([job.id])
      expect(first.jobs[0]?.status).toBe('failed')
      expect(first.jobs[0]?.progress.lastError).toMatch(
        /redirect \(HTTP 307\), which is never followed/,
      )
      expect(elsewhere.requests).toEqual([])
      expect(await world.services.jobs.resume(job.id)).toMatchObject({ kind: 'resumed' })
      const { jobs } = await world.runToEnd([job.id])
      expect(jobs[0]?.status).toBe('succeeded')
      await expectTempoInSync(getDatabase(), fakes, juneOf(tempoTruth(fakes, ['OPS'])))
    } finally {
      await elsewhere.close()
    }
  })

  it('removes a deleted worklog, and holds a mass deletion until a start confirms it', async () => {
    const worklogs = given(100)
    const world = await synced()
    // One deleted in the days the daily sync rescans: it goes.
    const recent = worklogs.find((w) => w.startDate >= '2025-06-20')!
    tempo.deleteWorklog(recent.tempoWorklogId)
    world.clock.set('2025-07-01T06:30:00.000Z')
    await world.runToEnd(await world.daily())
    await expectTempoInSync(getDatabase(), fakes, tempoTruth(fakes, ['OPS']))
    // Then nearly all of June: a backfill holds that back.
    const june = worklogs.filter((w) => w.startDate >= '2025-06-01' && w !== recent)
    expect(june.length).toBeGreaterThan(20)
    for (const worklog of june) {
      tempo.deleteWorklog(worklog.tempoWorklogId)
    }
    tempo.setWorklogs([
      ...tempo.worklogs(),
      aWorklog({
        issueId: 900_001,
        projectId: Number(OPS.id),
        startDate: '2025-06-15',
        authorAccountId: ada.accountId,
      }),
    ])
    const held = await world.backfill('tempo', { from: '2025-06-01', to: '2025-06-30' })
    await world.runToEnd([held.id])
    expect((await world.view('tempo', held.id)).progress.warnings).toEqual([
      expect.stringMatching(new RegExp(`^Held back ${june.length} deletions of OPS worklogs`)),
    ])
    expect(await row(june[0]!.tempoWorklogId)).toBeDefined()
    const confirmed = await world.backfill('tempo', {
      from: '2025-06-01',
      to: '2025-06-30',
      confirmDeletions: true,
    })
    await world.runToEnd([confirmed.id])
    await expectTempoInSync(getDatabase(), fakes, tempoTruth(fakes, ['OPS']))
  })
})
