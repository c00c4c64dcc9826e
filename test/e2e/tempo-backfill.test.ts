import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { eq, sql } from 'drizzle-orm'
import { beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import type { JobView } from '#core/jobs/job-view.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { scheduledEntry } from '#core/platform/scheduled-entry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import { createPacer } from '#core/rate-limit/pacer.ts'
import { createServices, type Services } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { PACE_BUDGETS } from '#core/upstreams/pace-budgets.ts'
import { jobs, projects, tempoWorklogs } from '#db/schema.ts'
import { createTempoKinds, windowsOf } from '#pipelines/tempo/kinds.ts'
import { type JiraIssue, sampleOrganisation } from '#sandbox/fakes/jira-data.ts'
import { aWorklog, type FakeTempoWorklog, sampleWorklogs } from '#sandbox/fakes/tempo-data.ts'
import { fixedClock } from '#test/clock.ts'
import { testConfig } from '#test/config.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { captureLog } from '#test/log.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { createWorkerHandler } from '../../functions/jobs/worker/handler.ts'
import { createBackfillTempoHandler } from '../../functions/v1/backfill-tempo/handler.ts'

// Done-when of issue 7: 5,000 worklogs over 14 months across active and inactive projects, a
// backfill started through v1/backfill-tempo and run by several jobs/worker invocations.

const getDatabase = useTestDatabase({ poolMax: 6 })
const WORKER_SCRIPT = fileURLToPath(new URL('./tempo-worker-process.ts', import.meta.url))
const ADMIN_KEY = 'apm_tempo-e2e-admin-key-0123456789abcdef'
const TODAY = '2026-06-01'
const RANGE = { from: '2025-04-01', to: TODAY } // 14 months: 15 windows of 30 days
const ACTIVE = new Set(['OPS', 'WEB'])
const ORG = sampleOrganisation({
  seed: 7007,
  projects: 4, // OPS and WEB active, DATA and INFRA inactive
  issues: 400,
  users: 20,
  now: new Date(`${TODAY}T00:00:00Z`),
})
const GHOST_ACCOUNT = '712020:ghost-no-longer-in-jira'
const UNKNOWN_ISSUE_ID = 999_999_991 // an issue Jira does not return: reported, never guessed

const tempo = useFakeTempo()
const jira = useFakeJira()
const pinecone = useFakePinecone()

function seedWorklogs(): FakeTempoWorklog[] {
  const worklogs = sampleWorklogs({
    seed: 77,
    count: 5000,
    issues: ORG.issues.map((issue) => ({ id: issue.id, projectId: issue.fields.project.id })),
    accountIds: ORG.users.map((user) => user.accountId),
    from: '2025-04-01',
    to: '2026-05-31',
  })
  const ops = ORG.issues.find((issue) => issue.fields.project.key === 'OPS') as JiraIssue
  const opsProject = Number(ops.fields.project.id)
  // One author Jira no longer knows, one issue Jira does not return, both in an active project.
  worklogs[0] = {
    ...(worklogs[0] as FakeTempoWorklog),
    issueId: Number(ops.id),
    projectId: opsProject,
    authorAccountId: GHOST_ACCOUNT,
  }
  worklogs.push(
    aWorklog({
      tempoWorklogId: 90_001,
      issueId: UNKNOWN_ISSUE_ID,
      projectId: opsProject,
      startDate: '2025-12-24',
    }),
  )
  return worklogs
}

beforeEach(async () => {
  jira.setIssues(ORG.issues)
  jira.setUsers(ORG.users)
  tempo.setWorklogs(seedWorklogs())
  const { db } = getDatabase()
  await db.execute(
    sql`truncate tempo_worklogs, jira_issue_keys, jira_users, jobs, projects, sync_state cascade`,
  )
  await db.insert(projects).values(
    ORG.projects.map((project) => ({
      key: project.key,
      name: project.name,
      isActive: ACTIVE.has(project.key),
    })),
  )
})

function env(): Record<string, string> {
  return {
    DATABASE_URL: getDatabase().url,
    ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY),
    ...upstreamEnv({ tempo, jira, pinecone }),
  }
}

/** The two functions over this file's database and the fakes, as production composes them. */
function system() {
  const clock = fixedClock(`${TODAY}T09:00:00.000Z`) // "today" for the start request
  const captured = captureLog('info')
  const { db, pool } = getDatabase()
  const services: Services = createServices(
    testConfig(env()),
    {
      db,
      pool,
      clock,
      log: captured.log,
      rateLimiter: createMemoryRateLimiter(clock),
      pacer: createPacer({ budgets: PACE_BUDGETS }), // real time: the production budgets (Tempo 4/s, Jira 10/s)
    },
    { upstreams: createUpstreams },
  )
  const kinds = createTempoKinds(services)
  const registry = createJobRegistry([kinds.backfill, kinds.sync])
  const backfill = webEntry({
    services: () => services,
    handler: (s) =>
      createBackfillTempoHandler({
        ...s,
        registry,
      }),
  })
  // Short leases and backoff so retries and a killed worker's lease come round within the test.
  const worker = scheduledEntry({
    name: 'jobs/worker',
    services: () => services,
    handler: (s) =>
      createWorkerHandler({
        ...s,
        registry,
        engine: {
          marginMs: 500,
          leaseMs: 2_000,
          backoff: { baseMs: 50, capMs: 500, maxRetryAfterMs: 2_000 },
        },
      }),
  })
  return { services, backfill, worker, log: captured }
}

type System = ReturnType<typeof system>

async function start(sys: System): Promise<JobView> {
  const res = await sys.backfill(
    aWebEvent({ method: 'POST', headers: { 'x-admin-key': ADMIN_KEY }, body: RANGE }),
    aContext(),
  )
  expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
  return (res.body as { job: JobView }).job
}

async function progress(sys: System, jobId: string): Promise<JobView> {
  const res = await sys.backfill(
    aWebEvent({ headers: { 'x-admin-key': ADMIN_KEY }, path: `/${jobId}` }),
    aContext(),
  )
  expect(res.statusCode).toBe(200)
  return (res.body as { job: JobView }).job
}

/** Invokes jobs/worker with a few seconds each until the job ends; returns how many it took. */
async function runToEnd(
  sys: System,
  jobId: string,
  budgetMs = 1_500,
): Promise<{ job: JobView; invocations: number }> {
  for (let invocations = 1; invocations <= 200; invocations += 1) {
    const result = await sys.worker({ trigger: 'worker' }, aContext(budgetMs))
    expect(result.ok, JSON.stringify(result)).toBe(true)
    const job = await progress(sys, jobId)
    if (job.status !== 'queued' && job.status !== 'running') {
      return { job, invocations }
    }
    if ((result as { stoppedBy?: string }).stoppedBy === 'idle') {
      await sleep(100) // a retry's backoff or a dead worker's lease has not come round yet
    }
  }
  throw new Error(`job ${jobId} did not finish`)
}

type Expected = {
  key: string
  project: string
  name: string
  hours: number
  date: string
  time: string
  description: string
}

/** What the stores must hold: the active projects' worklogs Jira can resolve, computed from the fakes. */
function expected(): Map<string, Expected> {
  const issues = new Map(ORG.issues.map((issue) => [Number(issue.id), issue]))
  const names = new Map(ORG.users.map((user) => [user.accountId, user.displayName]))
  const out = new Map<string, Expected>()
  for (const worklog of tempo.worklogs()) {
    const issue = issues.get(worklog.issueId)
    if (!issue || !ACTIVE.has(issue.fields.project.key)) {
      continue
    }
    out.set(String(worklog.tempoWorklogId), {
      key: issue.key,
      project: issue.fields.project.key,
      name: names.get(worklog.authorAccountId) ?? 'Unknown',
      hours: worklog.timeSpentSeconds / 3600,
      date: worklog.startDate,
      time: worklog.startTime,
      description: worklog.description,
    })
  }
  return out
}

async function expectFinalState(want: Map<string, Expected>) {
  const rows = await getDatabase().db.select().from(tempoWorklogs)
  expect(rows.length).toBe(want.size)
  for (const row of rows) {
    const w = want.get(row.worklogId)
    expect(w, `unexpected row ${row.worklogId}`).toBeDefined()
    expect([
      row.issueKey,
      row.projectKey,
      row.userDisplayName,
      row.hours,
      row.startDate,
      row.description,
    ]).toEqual([w?.key, w?.project, w?.name, w?.hours, w?.date, w?.description])
  }
  const vectors = pinecone.vectors('')
  expect([...vectors.keys()].sort()).toEqual([...want.keys()].map((id) => `tempo-${id}`).sort())
  for (const [id, w] of want) {
    const metadata = vectors.get(`tempo-${id}`)?.metadata ?? {}
    const hours = w.hours.toFixed(1)
    expect(metadata).toMatchObject({
      worklog_id: Number(id),
      issue_key: w.key,
      project_key: w.project,
      author_name: w.name,
      hours_logged: w.hours,
      worklog_date: w.date,
      date: w.date,
      timestamp: `${w.date}T${w.time}`,
      timestamp_epoch: Date.parse(`${w.date}T${w.time}Z`) / 1000,
      access_type: 'all',
      source: 'tempo',
      title: `${w.key}: ${hours}h by ${w.name}`,
      content_preview: `[${w.key}] Time Entry - ${w.name} logged ${hours} hours on ${w.date}${w.description ? `: ${w.description}` : ''}`,
    })
    expect(Object.values(metadata).every((value) => value !== null)).toBe(true)
  }
}

const keyLookups = () =>
  jira.requests.filter((r) => r.path === '/rest/api/3/search/jql' && r.method === 'POST')
const userLookups = () => jira.requests.filter((r) => r.path === '/rest/api/3/user/bulk')

describe('tempo backfill end to end', () => {
  it('imports exactly the active projects’ worklogs, and a second run removes what Tempo deleted', async () => {
    const sys = system()
    const started = Date.now()
    const job = await start(sys)
    expect(job.progress.chunksTotal).toBe(15)
    const { job: done, invocations } = await runToEnd(sys, job.id)
    const seconds = (Date.now() - started) / 1000
    expect(done.status, JSON.stringify(done.progress)).toBe('succeeded')
    expect(invocations).toBeGreaterThan(1)
    const want = expected()
    expect(want.size).toBeGreaterThan(2000)
    expect(want.size).toBeLessThan(3000)
    await expectFinalState(want)
    // The worklog on an issue Jira does not return is a failed item, not silently dropped.
    expect(done.progress.itemsFailed).toBe(1)
    expect(done.progress.itemsWritten).toBe(want.size)
    expect(want.get(String(seedWorklogs()[0]?.tempoWorklogId))?.name).toBe('Unknown')

    // Keys and names in batches (≤ 100 per request). An issue's key is asked once per attempt of a
    // window that reads it (an attempt trusts no key Jira named before it began); an invocation
    // cuts at most one attempt short, whose window may be read again. Names are asked once.
    const lookups = keyLookups().map(
      (r) => /id in \(([^)]*)\)/.exec((r.body as { jql: string }).jql)?.[1]?.split(',') ?? [],
    )
    const askedIds = lookups.flat()
    expect(Math.max(...lookups.map((ids) => ids.length))).toBeLessThanOrEqual(100)
    expect(lookups.map(countRepeats).every((repeats) => repeats === 0)).toBe(true)
    const activeIds = new Set(
      ORG.projects.filter((p) => ACTIVE.has(p.key)).map((p) => Number(p.id)),
    )
    const perWindow = windowsOf(RANGE.from, RANGE.to, 30).map(
      ({ from, to }) =>
        new Set(
          tempo
            .worklogs()
            .filter((w) => activeIds.has(w.projectId) && w.startDate >= from && w.startDate <= to)
            .map((w) => w.issueId),
        ).size,
    )
    const once = perWindow.reduce((sum, n) => sum + n, 0)
    expect(askedIds.length).toBeGreaterThanOrEqual(once)
    expect(askedIds.length).toBeLessThanOrEqual(once + (invocations - 1) * Math.max(...perWindow))
    const askedUsers = userLookups().flatMap((r) => r.query.getAll('accountId'))
    expect(countRepeats(askedUsers.filter((id) => id !== GHOST_ACCOUNT))).toBe(0)
    process.stdout.write(
      `tempo e2e: ${want.size} worklogs in ${seconds.toFixed(1)} s over ${invocations} worker invocations; ` +
        `jira: ${keyLookups().length} key lookups for ${new Set(askedIds).size} issues, ` +
        `${userLookups().length} user lookups; tempo: ${tempo.requests.length} requests\n`,
    )

    // Deleted upstream between runs: a second backfill removes them from both stores.
    const deleted = [...want.keys()].filter((_, n) => n % 97 === 0)
    for (const id of deleted) {
      tempo.deleteWorklog(Number(id))
    }
    const second = await start(sys)
    const { job: secondDone } = await runToEnd(sys, second.id)
    expect(secondDone.status).toBe('succeeded')
    const after = expected()
    expect(after.size).toBe(want.size - deleted.length)
    await expectFinalState(after)
  })

  it('reaches the same final state when 10% of upstream calls fail with 429 and 5xx', async () => {
    const injected = { tempo: 0, jira: 0, pinecone: 0 }
    for (const [name, fake, seed] of [
      ['tempo', tempo, 11],
      ['jira', jira, 12],
      ['pinecone', pinecone, 13],
    ] as const) {
      fake.failRandomly({
        rate: 0.1,
        statuses: [429, 500, 502, 503],
        seed,
        body: (status) => {
          injected[name] += 1
          return { message: `injected ${status}` }
        },
      })
    }
    const sys = system()
    const job = await start(sys)
    const { job: done } = await runToEnd(sys, job.id)
    expect(done.status, JSON.stringify(done.progress)).toBe('succeeded')
    // Every upstream failed some calls; the retries (in the clients and the engine) made up for it.
    expect(
      Object.values(injected).every((count) => count > 0),
      JSON.stringify(injected),
    ).toBe(true)
    process.stdout.write(`tempo e2e with 10% failures: injected ${JSON.stringify(injected)}\n`)
    await expectFinalState(expected())
  })

  it('reaches the same final state when a worker is killed mid-run', async () => {
    const sys = system()
    const job = await start(sys)
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify({ env: env(), leaseMs: 1_500 })],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    child.stderr.on('data', (data) => {
      stderr += String(data)
    })
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => {
      child.on('exit', (code, signal) => resolve(signal ?? code))
    })
    // Kill it once it has written part of the job, as the platform would at a timeout.
    let written = 0
    for (let n = 0; n < 600 && written < 300; n += 1) {
      await sleep(50)
      written = (await progress(sys, job.id)).progress.itemsWritten
    }
    child.kill('SIGKILL')
    expect(await exited, stderr).toBe('SIGKILL')
    const killedAt = await progress(sys, job.id)
    expect(killedAt.progress.itemsWritten).toBeGreaterThan(0)
    expect(killedAt.status).toBe('running')

    const { job: done } = await runToEnd(sys, job.id)
    expect(done.status, JSON.stringify(done.progress)).toBe('succeeded')
    await expectFinalState(expected())
    const stored = await getDatabase()
      .db.select({ n: sql<number>`count(*)::int` })
      .from(tempoWorklogs)
    expect(stored[0]?.n).toBe(expected().size)
    await getDatabase().db.delete(jobs).where(eq(jobs.id, job.id))
  })
})

function countRepeats(ids: string[]): number {
  return ids.length - new Set(ids).size
}
