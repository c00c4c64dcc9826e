// Done-when of issue 6: a Jira backfill started through v1/backfill-jira runs to the end through
// several jobs/worker invocations with small time budgets, and Pinecone then holds exactly one
// vector per issue with the right text and metadata — also with 10 % of upstream calls failing,
// and with a worker process killed mid-run.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { assert, beforeEach, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import type { JobView } from '#core/jobs/job-view.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import { createPacer } from '#core/rate-limit/pacer.ts'
import { createServices, type Services } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import type { JiraIssue } from '#core/upstreams/jira/client.ts'
import { PACE_BUDGETS } from '#core/upstreams/pace-budgets.ts'
import { toJiraDocument } from '#pipelines/jira/document.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { type JiraIssue as FakeIssue, sampleOrganisation } from '#sandbox/fakes/jira-data.ts'
import type { FakePinecone } from '#sandbox/fakes/pinecone.ts'
import { fakeEmbedding } from '#sandbox/fakes/pinecone-embed.ts'
import { fixedClock } from '#test/clock.ts'
import { testConfig, testEnv } from '#test/config.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { useFakeJira, useFakePinecone } from '#test/fakes.ts'
import { captureLog } from '#test/log.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { createWorkerHandler } from '../../functions/jobs/worker/handler.ts'
import { createBackfillJiraHandler } from '../../functions/v1/backfill-jira/handler.ts'

const getDatabase = useTestDatabase({ poolMax: 6 })
const ORG_NOW = new Date('2026-05-31T00:00:00.000Z')
const CLOCK_NOW = new Date('2026-06-01T12:00:00.000Z') // the services' now: the frozen upper bound
const ISSUES = 1234
const ADMIN_KEY = `apm_${randomBytes(16).toString('hex')}`
const WORKER_SCRIPT = fileURLToPath(new URL('./jira-worker-process.ts', import.meta.url))
// A worker invocation's budget: the engine stops taking pages 300 ms before it runs out, so
// each invocation has about half a second of work (a page takes 100–200 ms).
const BUDGET_MS = 800
const ENGINE = {
  marginMs: 300,
  leaseMs: 10_000,
  heartbeatMs: 2_000,
  backoff: { baseMs: 20, capMs: 100, maxRetryAfterMs: 100 },
}

const org = sampleOrganisation({ seed: 6, projects: 3, issues: ISSUES, users: 25, now: ORG_NOW })
const jira = useFakeJira({ now: ORG_NOW })
const pinecone = useFakePinecone()

beforeEach(async () => {
  jira.setProjects(org.projects)
  jira.setIssues(org.issues)
  await getDatabase().pool.query('delete from jobs; delete from sync_state')
  changeIssuesWhilePaging()
})

function env(): Record<string, string> {
  return {
    ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY),
    ...upstreamEnv({ jira, pinecone }),
  }
}

/** The services both functions share: this file's database, the fakes, a fixed clock. */
function services(): Services {
  const clock = fixedClock(CLOCK_NOW)
  const config = testConfig({ DATABASE_URL: getDatabase().url, ...env() })
  return createServices(
    config,
    {
      db: getDatabase().db,
      pool: getDatabase().pool,
      log: captureLog('warn').log,
      clock,
      rateLimiter: createMemoryRateLimiter(clock),
      // Pacing runs on real time (a fixed clock would never free a slot).
      pacer: createPacer({ budgets: PACE_BUDGETS }),
    },
    { upstreams: createUpstreams },
  )
}

/**
 * Issues change while the backfill pages: one already read gets a new summary (it moves behind
 * the cursor and is read again), one loses its assignee, one gets a description. Each change is
 * stamped inside the frozen window, as a change during the run would be.
 */
function changeIssuesWhilePaging() {
  const byKey = new Map(org.issues.map((issue) => [issue.key, issue]))
  const oldest = [...org.issues].sort((a, b) => a.fields.updated.localeCompare(b.fields.updated))
  const changes: Array<() => void> = [
    () => jira.updateIssue(oldest[0]!.key, { summary: 'Renamed while the backfill paged' }),
    () => jira.updateIssue(oldest.at(-1)!.key, { assignee: null }),
    () =>
      jira.updateIssue(oldest[500]!.key, {
        description: {
          type: 'doc',
          version: 1,
          content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Added later.' }] }],
        },
      }),
  ]
  let step = 0
  jira.onSearchPage(({ page }) => {
    const change = changes[step]
    if (page >= 2 && change) {
      step += 1
      jira.setNow(new Date(ORG_NOW.getTime() + step * 3_600_000))
      change()
    }
  })
  expect(byKey.size).toBe(ISSUES)
}

async function startBackfill(shared: Services): Promise<JobView> {
  const main = webEntry({
    services: () => shared,
    handler: (s) =>
      createBackfillJiraHandler({
        ...s,
        registry: createPipelineRegistry(s),
      }),
  })
  const res = await main(
    aWebEvent({ method: 'POST', headers: { 'x-admin-key': ADMIN_KEY } }),
    aContext(),
  )
  expect(res.statusCode, JSON.stringify(res.body)).toBe(202)
  const { job } = res.body as { job: JobView }
  expect(job.progress.chunksTotal).toBe(3)
  return job
}

/**
 * Invokes jobs/worker with a small budget until the job has finished; returns how many
 * invocations it took and how many of them ran out of time with work left.
 */
async function runToEnd(
  shared: Services,
  jobId: string,
): Promise<{ invocations: number; outOfTime: number }> {
  const worker = createWorkerHandler({
    ...shared,
    registry: createPipelineRegistry(shared),
    engine: ENGINE,
  })
  let outOfTime = 0
  for (let invocation = 1; invocation <= 300; invocation += 1) {
    const summary = await worker({}, aContext(BUDGET_MS))
    const job = await shared.jobs.getJob(jobId)
    if (job && job.status !== 'queued' && job.status !== 'running') {
      expect(job.status, JSON.stringify(job.progress)).toBe('succeeded')
      return { invocations: invocation, outOfTime }
    }
    outOfTime += summary.stoppedBy === 'time' ? 1 : 0
    await new Promise((resolve) => setTimeout(resolve, 20)) // retries wait for their run_after
  }
  throw new Error('the backfill did not finish within 300 worker invocations')
}

/** What Pinecone must hold: one vector per issue as Jira has it now, embedded from its text. */
function expectFinalState() {
  const stored = pinecone.vectors('')
  const issues = jira.issues()
  expect(issues).toHaveLength(ISSUES)
  expect([...stored.keys()].sort()).toEqual(issues.map((issue) => `jira-${issue.key}`).sort())
  for (const issue of issues) {
    const expected = toJiraDocument(issue as unknown as JiraIssue, {
      project: issue.fields.project.key,
      jiraBaseUrl: jira.url,
      now: CLOCK_NOW,
    })
    const vector = stored.get(expected.id)
    expect(vector?.metadata, issue.key).toEqual(expected.metadata)
    expect(vector?.values, issue.key).toEqual(
      fakeEmbedding(expected.text, 'passage', pinecone.dimension),
    )
  }
  spotCheck(stored, issues)
}

// A few facts checked without the mapping under test: the changes made while paging, and the
// original's defaults and templates.
function spotCheck(stored: ReturnType<FakePinecone['vectors']>, issues: FakeIssue[]) {
  const renamed = issues.find(
    (issue) => issue.fields.summary === 'Renamed while the backfill paged',
  )
  assert(renamed, 'the rename happened')
  expect(stored.get(`jira-${renamed.key}`)?.metadata?.title).toBe(
    `${renamed.key}: Renamed while the backfill paged`,
  )
  const unassigned = issues.filter((issue) => issue.fields.assignee === null)
  expect(unassigned.length).toBeGreaterThan(100)
  for (const issue of unassigned) {
    expect(stored.get(`jira-${issue.key}`)?.metadata?.assignee).toBe('Unassigned')
  }
  const child = issues.find((issue) => issue.fields.parent)
  assert(child?.fields.parent)
  const preview = String(stored.get(`jira-${child.key}`)?.metadata?.content_preview)
  expect(preview.startsWith(`${child.fields.summary}\n\n`)).toBe(true)
  expect(preview).toContain(
    `Parent Issue: ${child.fields.parent.key} - ${child.fields.parent.fields.summary}`,
  )
  const changed = issues.find((issue) =>
    JSON.stringify(issue.fields.description).includes('Added later.'),
  )
  assert(changed)
  expect(stored.get(`jira-${changed.key}`)?.metadata?.content_preview).toBe(
    `${changed.fields.summary}\n\nAdded later.`,
  )
}

function report(label: string, startedAt: number, invocations: number) {
  if (process.env.E2E_REPORT) {
    const seconds = (Date.now() - startedAt) / 1000
    const searches = jira.requests.filter((r) => r.path === '/rest/api/3/search/jql').length
    process.stderr.write(
      `[e2e ${label}] ${seconds.toFixed(1)} s, ${invocations} worker invocations, ${jira.requests.length} Jira requests (${searches} searches), ${pinecone.requests.length} Pinecone requests, ${(ISSUES / seconds).toFixed(0)} issues/s\n`,
    )
  }
}

describe('jira backfill end to end', () => {
  it('writes exactly one vector per issue through several small worker invocations', async () => {
    const startedAt = Date.now()
    // The vector of an issue deleted from Jira since an earlier run: the reconcile removes it.
    const deleted = `jira-${org.projects[0]!.key}-999999`
    pinecone.seedVectors([{ id: deleted, values: [0.1] }])
    const shared = services()
    const job = await startBackfill(shared)
    const { invocations, outOfTime } = await runToEnd(shared, job.id)
    expect(pinecone.vectors('').has(deleted)).toBe(false)
    // The budget ran out with work left, and the next invocation carried on from the checkpoint.
    expect(outOfTime).toBeGreaterThanOrEqual(1)
    expect(invocations).toBeGreaterThan(outOfTime)
    expectFinalState()
    const done = await shared.jobs.getJob(job.id)
    expect(done?.progress).toMatchObject({ chunksDone: 3, chunksFailed: 0, lastError: null })
    expect(done?.progress.itemsWritten).toBeGreaterThanOrEqual(ISSUES)
    // No project is active, so Jira's projects are listed; each chunk resolves its project by id;
    // issues come from searches alone.
    expect(new Set(jira.requests.map((r) => r.path))).toEqual(
      new Set([
        '/rest/api/3/project/search',
        '/rest/api/3/search/jql',
        ...org.projects.map((p) => `/rest/api/3/project/${p.id}`),
      ]),
    )
    // Kept under each project's Jira id.
    const watermarks = await getDatabase().pool.query<{ scope: string; watermark: Date }>(
      `select scope, watermark from sync_state where source = 'jira' order by scope`,
    )
    expect(watermarks.rows.map((row) => [row.scope, row.watermark.toISOString()])).toEqual(
      org.projects.map((p) => [p.id, CLOCK_NOW.toISOString()]).sort(),
    )
    report('calm', startedAt, invocations)
  })

  it('reaches the same final state with 10 % of upstream calls failing with 429 and 5xx', async () => {
    const startedAt = Date.now()
    jira.failRandomly({
      rate: 0.1,
      statuses: [429, 500, 502, 503],
      seed: 11,
      headers: { 'retry-after': '0' },
      body: (status) => ({ errorMessages: [`injected ${status}`], errors: {} }),
    })
    pinecone.failRandomly({
      rate: 0.1,
      statuses: [429, 500, 502, 503],
      seed: 12,
      headers: { 'retry-after': '0' },
      body: (status) => ({
        code: status === 429 ? 8 : 13,
        message: `injected ${status}`,
        details: [],
      }),
    })
    // Besides, the first nine page reads fail: three in a row outlast a call's quick retries, so
    // at least three steps fail and the engine retries them, whatever the order of requests.
    jira.fail({
      kind: 'respond',
      status: 503,
      path: '/rest/api/3/search/jql',
      times: 9,
      headers: { 'retry-after': '0' },
      body: { errorMessages: ['injected 503'], errors: {} },
    })
    const shared = services()
    const job = await startBackfill(shared)
    const { invocations } = await runToEnd(shared, job.id)
    pinecone.clearFaults()
    expectFinalState()
    // The faults reached the engine: chunks needed more than one attempt each, in all.
    const attempts = await getDatabase().pool.query<{ total: string }>(
      'select sum(attempts) as total from job_chunks where job_id = $1',
      [job.id],
    )
    expect(Number(attempts.rows[0]?.total)).toBeGreaterThan(3)
    report('faults', startedAt, invocations)
  })

  it('reaches the same final state when a worker process is killed mid-run', async () => {
    const startedAt = Date.now()
    const shared = services()
    const job = await startBackfill(shared)
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
      env: {
        ...process.env,
        ...testEnv({ DATABASE_URL: getDatabase().url, ...env() }),
      } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (data) => {
      stderr += String(data)
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => {
      child.on('exit', (_code, signal) => resolve(signal))
    })
    // Kill it once it has written about half of the data, before it could finish.
    for (let waited = 0; pinecone.vectors('').size < 600; waited += 20) {
      if (child.exitCode !== null || waited > 30_000) {
        child.kill('SIGKILL')
        throw new Error(`the worker process made no progress: ${stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    const pageReads = () =>
      jira.requests.filter((r) => r.query.get('jql')?.includes(' updated >= ')).length
    const readBeforeKill = pageReads()
    const interrupted = await shared.jobs.getJob(job.id)
    expect(interrupted?.status).toBe('running')
    expect(pinecone.vectors('').size).toBeLessThan(ISSUES)
    // Stands in for the dead worker's lease running out (a minute in production).
    await getDatabase().pool.query(
      `update job_chunks set lease_expires_at = now() - interval '1 second' where job_id = $1 and status = 'running'`,
      [job.id],
    )
    const { invocations } = await runToEnd(shared, job.id)
    expectFinalState()
    // Resumed from the checkpoints, not from scratch, which would read every page again (pages of
    // 100: at least ⌈1234 ÷ 100⌉ = 13). Of the 6 pages written before the kill, at most the 2 a
    // chunk writes side by side were not yet checkpointed.
    expect(pageReads() - readBeforeKill).toBeLessThan(Math.ceil(ISSUES / 100))
    report('killed', startedAt, invocations)
  })
})
