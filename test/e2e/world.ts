// What the end-to-end tests of upstream changes share: the real functions (backfill starts,
// jobs/sync, jobs/worker) over this file's database and the fakes, and the fakes' own truth to
// compare Pinecone and tempo_worklogs with.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'drizzle-orm'
import { expect } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import type { WorkerOptions } from '#core/jobs/engine.ts'
import type { JobView } from '#core/jobs/job-view.ts'
import { createJobRegistry, type JobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import { createPacer } from '#core/rate-limit/pacer.ts'
import { createServices, type Services } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { PACE_BUDGETS } from '#core/upstreams/pace-budgets.ts'
import { tempoWorklogs } from '#db/schema.ts'
import {
  createJiraBackfillKind,
  createJiraSyncKind,
  JIRA_DAILY_SYNC,
} from '#pipelines/jira/kinds.ts'
import {
  createTempoKinds,
  TEMPO_DAILY_SYNC,
  type TempoKindOptions,
} from '#pipelines/tempo/kinds.ts'
import type { FakeJira } from '#sandbox/fakes/jira.ts'
import type { FakePinecone } from '#sandbox/fakes/pinecone.ts'
import type { FakeTempo } from '#sandbox/fakes/tempo.ts'
import { TEMPO_ANONYMISED_ACCOUNT } from '#sandbox/fakes/tempo-data.ts'
import { fixedClock } from '#test/clock.ts'
import { testConfig } from '#test/config.ts'
import type { TestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { createSyncHandler } from '../../functions/jobs/sync/handler.ts'
import { createWorkerHandler } from '../../functions/jobs/worker/handler.ts'
import { createBackfillJiraHandler } from '../../functions/v1/backfill-jira/handler.ts'
import { createBackfillTempoHandler } from '../../functions/v1/backfill-tempo/handler.ts'

/** Engine settings of the tests: the production margins scaled down, retries due soon. */
export const FAST_ENGINE: Partial<WorkerOptions> = {
  marginMs: 300,
  leaseMs: 3_000,
  heartbeatMs: 1_000,
  backoff: { baseMs: 20, capMs: 200, maxRetryAfterMs: 200 },
}

export type Fakes = { jira: FakeJira; tempo: FakeTempo; pinecone: FakePinecone }

export type WorldOptions = {
  /** the services' clock: the frozen now of plans, and the daily sync's day */
  now?: string
  env?: Record<string, string>
  /** keys per page of the Jira reconcile's key scan */
  keyPageSize?: number
  tempo?: Partial<TempoKindOptions>
  engine?: Partial<WorkerOptions>
  /** outbound pace (default: production's budgets) */
  budgets?: Parameters<typeof createPacer>[0]['budgets']
}

/** The system as production composes it, over `database` and the fakes. */
export function createWorld(database: TestDatabase, fakes: Fakes, options: WorldOptions = {}) {
  const adminKey = `apm_${randomBytes(16).toString('hex')}`
  const clock = fixedClock(options.now ?? '2025-06-30T12:00:00.000Z')
  const log = captureLog('info')
  const services: Services = createServices(
    testConfig({
      DATABASE_URL: database.url,
      ADMIN_API_KEY_SHA256: adminKeyDigest(adminKey),
      ...upstreamEnv(fakes),
      ...options.env,
    }),
    {
      db: database.db,
      pool: database.pool,
      clock,
      log: log.log,
      rateLimiter: createMemoryRateLimiter(clock),
      // Pacing runs on real time (a fixed clock would never free a slot).
      pacer: createPacer({ budgets: options.budgets ?? PACE_BUDGETS }),
    },
    { upstreams: createUpstreams },
  )
  const jiraDeps = { ...services, ...(options.keyPageSize && { keyPageSize: options.keyPageSize }) }
  const tempo = createTempoKinds({ ...services, ...(options.tempo && { options: options.tempo }) })
  const registry: JobRegistry = createJobRegistry(
    [createJiraBackfillKind(jiraDeps), createJiraSyncKind(jiraDeps), tempo.backfill, tempo.sync],
    [JIRA_DAILY_SYNC, TEMPO_DAILY_SYNC],
  )
  const backfillJira = webEntry({
    services: () => services,
    handler: (s) => createBackfillJiraHandler({ ...s, registry }),
  })
  const backfillTempo = webEntry({
    services: () => services,
    handler: (s) => createBackfillTempoHandler({ ...s, registry }),
  })
  const engine = { ...FAST_ENGINE, ...options.engine }
  const worker = createWorkerHandler({ ...services, registry, engine })
  const daily = createSyncHandler({ ...services, registry })
  const functions = { jira: backfillJira, tempo: backfillTempo }

  async function call(source: 'jira' | 'tempo', request: Parameters<typeof aWebEvent>[0] = {}) {
    return functions[source](
      aWebEvent({ ...request, headers: { 'x-admin-key': adminKey, ...request.headers } }),
      aContext(),
    )
  }

  return {
    services,
    clock,
    log,
    registry,
    worker,
    /** POST v1/backfill-<source> with `body`; the job queued. */
    async backfill(source: 'jira' | 'tempo', body: Record<string, unknown> = {}): Promise<JobView> {
      const res = await call(source, { method: 'POST', body })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
      return (res.body as { job: JobView }).job
    },
    /** GET v1/backfill-<source>/<id>: the job view as the API shows it. */
    async view(source: 'jira' | 'tempo', jobId: string): Promise<JobView> {
      const res = await call(source, { path: `/${jobId}` })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
      return (res.body as { job: JobView }).job
    },
    /** jobs/sync for the clock's day: the ids of the day's sync jobs. */
    async daily(): Promise<string[]> {
      const result = (await daily({}, aContext())) as { jobs: Array<{ jobId?: string }> }
      return result.jobs.flatMap((job) => (job.jobId ? [job.jobId] : []))
    },
    /**
     * Invokes jobs/worker (`budgetMs` each) until every job of `jobIds` has finished; returns how
     * many invocations it took and the jobs as they ended.
     */
    async runToEnd(jobIds: readonly string[], budgetMs = 1_500, max = 400) {
      for (let invocation = 1; invocation <= max; invocation += 1) {
        const summary = (await worker({}, aContext(budgetMs))) as { stoppedBy: string }
        const jobs = await Promise.all(jobIds.map((id) => services.jobs.getJob(id)))
        if (jobs.every((job) => job && job.status !== 'queued' && job.status !== 'running')) {
          return { invocations: invocation, jobs: jobs as JobView[] }
        }
        if (summary.stoppedBy === 'idle') {
          await sleep(50) // a retry's backoff has not come round yet
        }
      }
      throw new Error(`jobs ${jobIds.join(', ')} did not finish within ${max} invocations`)
    },
  }
}

export type World = ReturnType<typeof createWorld>

/** Empties what the pipelines write, so a test starts from nothing. */
export async function clearStores(database: TestDatabase): Promise<void> {
  await database.db.execute(
    sql`truncate tempo_worklogs, jira_issue_keys, jira_users, jobs, projects, sync_state cascade`,
  )
}

/** The projects the backfills and syncs cover (rows of `projects`). */
export async function activate(database: TestDatabase, keys: readonly string[]): Promise<void> {
  await database.pool.query(
    `insert into projects (key, name, is_active) select k, k, true from unnest($1::text[]) k
     on conflict (key) do update set is_active = true`,
    [keys],
  )
}

/** Pinecone's Jira vectors as [id, issue_key, project_key, title], sorted. */
export function jiraVectors(pinecone: FakePinecone): string[][] {
  return [...pinecone.vectors('')]
    .filter(([id]) => id.startsWith('jira-'))
    .map(([id, v]) => [
      id,
      String(v.metadata?.issue_key),
      String(v.metadata?.project_key),
      String(v.metadata?.title),
    ])
    .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''))
}

/** What Pinecone must hold for Jira: one vector per issue of `projects` (keys now), as Jira has it. */
export function jiraTruth(jira: FakeJira, projects: readonly string[]): string[][] {
  return jira
    .issues()
    .filter((issue) => projects.includes(issue.fields.project.key))
    .map((issue) => [
      `jira-${issue.key}`,
      issue.key,
      issue.fields.project.key,
      `${issue.key}: ${issue.fields.summary}`,
    ])
    .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''))
}

/** Asserts Pinecone's Jira vectors are exactly `jiraTruth`: none lost, stale or doubled. */
export function expectJiraInSync(fakes: Fakes, projects: readonly string[]): void {
  const stored = jiraVectors(fakes.pinecone)
  const truth = jiraTruth(fakes.jira, projects)
  expect(truth.length).toBeGreaterThan(0)
  const storedIds = new Set(stored.map((row) => row[0]))
  const truthIds = new Set(truth.map((row) => row[0]))
  const lost = truth.filter((row) => !storedIds.has(row[0]))
  const extra = stored.filter((row) => !truthIds.has(row[0]))
  expect({ lost: lost.length, extra: extra.slice(0, 5) }).toEqual({ lost: 0, extra: [] })
  expect(stored).toEqual(truth)
}

type TempoExpected = {
  issueKey: string
  projectKey: string
  hours: number
  author: string
  description: string
}

/** What the stores must hold for Tempo: the worklogs of `projects` (keys now), as the fakes have them. */
export function tempoTruth(fakes: Fakes, projects: readonly string[]): Map<string, TempoExpected> {
  const issues = new Map(fakes.jira.issues().map((issue) => [Number(issue.id), issue]))
  const names = new Map<string, string>()
  for (const issue of fakes.jira.issues()) {
    for (const user of [issue.fields.assignee, issue.fields.reporter]) {
      if (user) {
        names.set(user.accountId, user.displayName)
      }
    }
  }
  const truth = new Map<string, TempoExpected>()
  for (const worklog of fakes.tempo.worklogs()) {
    const issue = issues.get(worklog.issueId)
    if (!issue || !projects.includes(issue.fields.project.key)) {
      continue
    }
    const anonymous = worklog.authorAccountId === TEMPO_ANONYMISED_ACCOUNT
    truth.set(String(worklog.tempoWorklogId), {
      issueKey: issue.key,
      projectKey: issue.fields.project.key,
      hours: worklog.timeSpentSeconds / 3600,
      author: anonymous ? 'Anonymised user' : (names.get(worklog.authorAccountId) ?? 'Unknown'),
      description: worklog.description,
    })
  }
  return truth
}

/** Asserts tempo_worklogs and Pinecone's Tempo vectors hold exactly `expected`. */
export async function expectTempoInSync(
  database: TestDatabase,
  fakes: Fakes,
  expected: Map<string, TempoExpected>,
): Promise<void> {
  expect(expected.size).toBeGreaterThan(0)
  const rows = await database.db.select().from(tempoWorklogs)
  const stored = new Map(
    rows.map((row) => [
      row.worklogId,
      {
        issueKey: row.issueKey,
        projectKey: row.projectKey,
        hours: row.hours,
        author: row.userDisplayName,
        description: row.description,
      },
    ]),
  )
  const lost = [...expected.keys()].filter((id) => !stored.has(id))
  const extra = [...stored.keys()].filter((id) => !expected.has(id))
  const stale = [...expected].filter(
    ([id, want]) => stored.has(id) && JSON.stringify(stored.get(id)) !== JSON.stringify(want),
  )
  expect({ lost, extra, stale: stale.slice(0, 3) }).toEqual({ lost: [], extra: [], stale: [] })
  const vectors = new Map([...fakes.pinecone.vectors('')].filter(([id]) => id.startsWith('tempo-')))
  expect([...vectors.keys()].sort()).toEqual([...expected.keys()].map((id) => `tempo-${id}`).sort())
  for (const [id, want] of expected) {
    expect(vectors.get(`tempo-${id}`)?.metadata, id).toMatchObject({
      issue_key: want.issueKey,
      project_key: want.projectKey,
      hours_logged: want.hours,
      author_name: want.author,
    })
  }
}
