import { setTimeout as sleep } from 'node:timers/promises'
import { eq } from 'drizzle-orm'
import { assert, beforeEach, describe, expect, it, vi } from 'vitest'
import { AppError } from '#core/errors.ts'
import type { StepResult } from '#core/jobs/types.ts'
import { createPineconeSink } from '#core/upstreams/pinecone/client.ts'
import { projects, syncState } from '#db/schema.ts'
import { aJiraIssue, jiraTimestamp } from '#sandbox/fakes/jira-data.ts'
import { startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import { fixedClock } from '#test/clock.ts'
import { testConfig } from '#test/config.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeJira, useFakePinecone } from '#test/fakes.ts'
import { heldLease } from '#test/lease.ts'
import { captureLog } from '#test/log.ts'
import { jiraClientOn, pineconeSinkOn, upstreamEnv } from '#test/upstreams.ts'
import {
  createJiraBackfillKind,
  createJiraSyncKind,
  type JiraCursor,
  type JiraJobDeps,
  type JiraScope,
  SYNC_OVERLAP_MS,
} from './kinds.ts'

const getDatabase = useTestDatabase()
const NOW = '2026-06-01T12:00:00.000Z'
const NOW_MS = Date.parse(NOW)
const DAY = 86_400_000
const jira = useFakeJira({ now: NOW })
const pinecone = useFakePinecone()

beforeEach(async () => {
  await getDatabase().pool.query(
    'delete from projects; delete from sync_state; delete from jira_issue_keys',
  )
})

function deps(overrides: Partial<JiraJobDeps> = {}): JiraJobDeps {
  return {
    db: getDatabase().db,
    clock: fixedClock(NOW),
    config: testConfig(upstreamEnv({ jira })),
    log: captureLog().log,
    jira: jiraClientOn(jira),
    pinecone: pineconeSinkOn(pinecone),
    ...overrides,
  }
}

function issues(project: string, count: number, updatedFrom = NOW_MS - 10 * DAY) {
  return Array.from({ length: count }, (_, n) =>
    aJiraIssue({
      key: `${project}-${n + 1}`,
      fields: { updated: jiraTimestamp(updatedFrom + n * 60_000) },
    }),
  )
}

/** Vectors stored directly, standing for issues an earlier run wrote. */
function seedVectors(...ids: string[]) {
  pinecone.seedVectors(ids.map((id) => ({ id, values: [0.1, 0.2] })))
}

const scopeOf = (project: string, days = 30): JiraScope => ({
  project,
  fromMs: NOW_MS - days * DAY,
  toMs: NOW_MS,
})

/** Steps so far → whether to stop there (as a worker whose time ran out), or a number of steps. */
type Stop = number | ((steps: StepResult<JiraCursor>[]) => boolean)

/** Runs a chunk's steps to the end (or to a retry), as the engine would, minus the database. */
function runChunk(
  kind: ReturnType<typeof createJiraBackfillKind>,
  scope: JiraScope,
  cursor: JiraCursor | null = null,
  stop: Stop = 100,
) {
  return runChunkWith(kind, scope, {}, cursor, stop)
}

/** `runChunk` with the job's params. */
async function runChunkWith(
  kind: ReturnType<typeof createJiraBackfillKind>,
  scope: JiraScope,
  params: { confirmDeletions?: boolean },
  cursor: JiraCursor | null = null,
  stop: Stop = 100,
) {
  const stopped = typeof stop === 'number' ? (steps: unknown[]) => steps.length >= stop : stop
  const steps: StepResult<JiraCursor>[] = []
  const run = kind.run({
    jobId: 'job',
    lease: await heldLease(getDatabase().pool),
    params,
    scope,
    cursor,
    signal: new AbortController().signal,
  })
  for await (const step of run) {
    steps.push(step as StepResult<JiraCursor>)
    if (stopped(steps)) {
      await run.return(undefined)
      break
    }
  }
  return steps
}

/**
 * The steps of the pages, not of the reconcile running beside them: those that moved the pages'
 * part of the cursor (from `start`, the chunk's cursor when the run began).
 */
function pageSteps(steps: StepResult<JiraCursor>[], start: JiraCursor) {
  const pagesOf = ({ reconcile: _, ...pages }: JiraCursor) => JSON.stringify(pages)
  let before = pagesOf(start)
  return steps.filter((step) => {
    if (step.kind !== 'page') {
      return false
    }
    const now = pagesOf(step.cursor)
    const moved = now !== before
    before = now
    return moved
  })
}

/** The steps of the reconcile: every other step (each step moves one part of the cursor). */
function reconcileSteps(steps: StepResult<JiraCursor>[], start: JiraCursor) {
  const pages = new Set(pageSteps(steps, start))
  return steps.filter((step) => step.kind === 'page' && !pages.has(step))
}

/** The chunk's first page step, and the run stopped right after it. */
async function firstPage(kind: ReturnType<typeof createJiraBackfillKind>, scope: JiraScope) {
  const start = { fromMs: scope.fromMs }
  const steps = await runChunk(kind, scope, null, (sofar) => pageSteps(sofar, start).length > 0)
  const [first] = pageSteps(steps, start)
  assert(first?.kind === 'page', JSON.stringify(steps))
  return first
}

/** Jira's id of a project the builders made (`aJiraIssue` derives it from the key). */
function projectId(project: string): string {
  return aJiraIssue({ key: `${project}-1` }).fields.project.id
}

/** A project's watermark, kept under its Jira id. */
async function watermark(project: string) {
  const rows = await getDatabase()
    .db.select()
    .from(syncState)
    .where(eq(syncState.scope, projectId(project)))
  return rows[0]?.watermark.getTime()
}

const jiraKeys = () => [...pinecone.vectors('').keys()].sort()
/** The searches of the pages (not the reconcile's key scan). */
const windowSearches = () =>
  jira.requests.filter(
    (r) => r.path === '/rest/api/3/search/jql' && r.query.get('jql')?.includes(' updated >= '),
  )

describe('jira job kinds', () => {
  describe('happy', () => {
    it('plans one chunk per named project over days back from a frozen now', async () => {
      const scopes = await createJiraBackfillKind(deps()).plan({
        days: 30,
        projects: ['OPS', 'WEB'],
      })
      // Jira lists neither project (no issues yet): the chunks resolve the keys when they run.
      expect(scopes).toEqual([scopeOf('OPS'), scopeOf('WEB')])
    })

    it('plans the active projects when none are named, and all of Jira’s when none are active', async () => {
      jira.setProjects([
        { id: '1', key: 'ALPHA', name: 'A' },
        { id: '2', key: 'BETA', name: 'B' },
      ])
      const kind = createJiraBackfillKind(deps())
      expect((await kind.plan({ days: 1 })).map((s) => (s as JiraScope).project)).toEqual([
        'ALPHA',
        'BETA',
      ])
      await getDatabase()
        .db.insert(projects)
        .values([
          { key: 'OPS', isActive: true },
          { key: 'OLD', isActive: false },
        ])
      expect((await kind.plan({ days: 1 })).map((s) => (s as JiraScope).project)).toEqual(['OPS'])
    })

    it('leaves out, and logs, listed projects whose keys are outside the key syntax', async () => {
      jira.setProjects([
        { id: '1', key: 'OPS', name: 'Ops' },
        { id: '2', key: 'lower', name: 'Lower' },
        { id: '3', key: 'A-B', name: 'Dash' },
      ])
      const captured = captureLog()
      const kind = createJiraBackfillKind(deps({ log: captured.log }))
      expect((await kind.plan({ days: 1 })).map((s) => (s as JiraScope).project)).toEqual(['OPS'])
      const warning = captured.lines.find((line) => line.level === 'warn')
      expect(warning, captured.text()).toMatchObject({ skipped: 2, keys: ['A-B', 'lower'] })
    })

    it('passes the chunk’s abort signal on to Pinecone', async () => {
      jira.setIssues(issues('OPS', 3))
      const sink = deps().pinecone!
      const controller = new AbortController()
      // Whether the signal a write was given had aborted once the chunk's was.
      const seen: Array<boolean | undefined> = []
      const pinecone = {
        ...sink,
        upsertDocuments: (
          docs: Parameters<typeof sink.upsertDocuments>[0],
          signal?: AbortSignal,
        ) => {
          controller.abort()
          seen.push(signal?.aborted)
          return sink.upsertDocuments(docs, signal)
        },
      }
      const run = createJiraBackfillKind(deps({ pinecone })).run({
        jobId: 'job',
        lease: await heldLease(getDatabase().pool),
        params: {},
        scope: scopeOf('OPS'),
        cursor: null,
        signal: controller.signal,
      })
      // The attempt ends on the abort, with a retry step or the abort itself.
      const ended = (async () => {
        for await (const _ of run) {
          // steps until then
        }
      })()
      await ended.catch((err: unknown) => expect(err).toMatchObject({ name: 'AbortError' }))
      expect(seen).toEqual([true])
    })

    it('asks for the next page while two pages are written, no further ahead, and checkpoints in page order', async () => {
      jira.setIssues(issues('OPS', 450))
      let release: () => void = () => {}
      const held = new Promise<void>((resolve) => {
        release = resolve
      })
      pinecone.onRequest(async (req) => {
        if (req.path === '/vectors/upsert') {
          await held
        }
      })
      const run = createJiraBackfillKind(deps()).run({
        jobId: 'job',
        lease: await heldLease(getDatabase().pool),
        params: {},
        scope: scopeOf('OPS'),
        cursor: null,
        signal: new AbortController().signal,
      })
      const steps: StepResult<JiraCursor>[] = []
      const done = (async () => {
        for await (const step of run) {
          steps.push(step as StepResult<JiraCursor>)
        }
      })()
      // Pages 1 and 2 are being written (their upserts held), page 3 was asked for meanwhile;
      // page 4 waits until page 1 is written.
      const wait = { timeout: 20_000 }
      const start = { fromMs: scopeOf('OPS').fromMs }
      await vi.waitFor(() => expect(windowSearches()).toHaveLength(3), wait)
      await vi.waitFor(
        () => expect(pinecone.requests.filter((r) => r.path === '/vectors/upsert')).toHaveLength(2),
        wait,
      )
      // Beside the held pages, the reconcile has begun: its key scan is asked for already.
      const keyScans = () =>
        jira.requests.filter((r) => r.query.get('jql')?.endsWith('ORDER BY key ASC'))
      await vi.waitFor(() => expect(keyScans()).toHaveLength(1), wait)
      await sleep(50)
      expect(windowSearches()).toHaveLength(3)
      expect(pageSteps(steps, start)).toEqual([])
      release()
      await done
      const pages = pageSteps(steps, start)
      expect(pages.map((s) => s.kind === 'page' && s.fetched)).toEqual([100, 100, 100, 100, 50])
      // Each checkpoint carries the token of the page after it, in the order Jira gave them.
      const tokens = windowSearches().map((r) => r.query.get('nextPageToken'))
      expect(pages.map((s) => s.kind === 'page' && (s.cursor.nextPageToken ?? null))).toEqual([
        ...tokens.slice(1),
        null,
      ])
      expect(jiraKeys()).toHaveLength(450)
    })

    it('writes one vector per issue page by page, with the fields in the search itself', async () => {
      jira.setIssues([...issues('OPS', 230), ...issues('WEB', 5)])
      const steps = await runChunk(createJiraBackfillKind(deps()), scopeOf('OPS'))
      const start = { fromMs: scopeOf('OPS').fromMs }
      const counts = (s: StepResult<JiraCursor>) => s.kind === 'page' && [s.fetched, s.written]
      expect(pageSteps(steps, start).map(counts)).toEqual([
        [100, 100],
        [100, 100],
        [30, 30],
      ])
      // Beside the pages: the key scan, and the listing of the vectors (up to 20 pages a step),
      // which finds what the pages wrote so far and nothing to delete.
      const reconciled = reconcileSteps(steps, start)
      expect(reconciled.map(counts)).toEqual([
        [230, 0],
        [expect.any(Number), 0],
      ])
      expect(steps.at(-1)).toMatchObject({ cursor: { reconcile: { scanned: 230, gone: 0 } } })
      expect(jiraKeys()).toHaveLength(230)
      expect(jiraKeys().every((id) => id.startsWith('jira-OPS-'))).toBe(true)
      const searches = windowSearches()
      expect(searches[0]?.query.get('jql')).toBe(
        `project = ${projectId('OPS')} AND updated >= ${NOW_MS - 30 * DAY} AND updated <= ${NOW_MS} ORDER BY updated ASC, key ASC`,
      )
      expect(searches[0]?.query.get('fields')?.split(',')).toEqual(
        expect.arrayContaining(['summary', 'description', 'assignee', 'parent', 'labels']),
      )
      expect(jira.requests.some((r) => r.path.startsWith('/rest/api/3/issue/'))).toBe(false)
      const stored = pinecone.vectors('').get('jira-OPS-1')
      expect(stored?.metadata).toMatchObject({
        issue_key: 'OPS-1',
        source: 'jira',
        url: `${jira.url}/browse/OPS-1`,
      })
    })

    it('continues from a checkpointed cursor with Jira’s token', async () => {
      jira.setIssues(issues('OPS', 150))
      const kind = createJiraBackfillKind(deps())
      const first = await firstPage(kind, scopeOf('OPS'))
      assert(first.kind === 'page' && first.cursor.nextPageToken, JSON.stringify(first))
      pinecone.reset()
      const rest = await runChunk(kind, scopeOf('OPS'), first.cursor)
      const pages = pageSteps(rest, first.cursor)
      expect(pages.map((s) => s.kind === 'page' && s.fetched)).toEqual([50]) // the last page
      expect(jiraKeys()).toHaveLength(50)
      expect(windowSearches().at(-1)?.query.get('nextPageToken')).toBe(first.cursor.nextPageToken)
    })

    it('restarts from the newest issue written when Jira refuses a stale page token', async () => {
      jira.setIssues(issues('OPS', 150))
      const kind = createJiraBackfillKind(deps())
      const first = await firstPage(kind, scopeOf('OPS'))
      assert(first.kind === 'page' && first.cursor.lastUpdatedMs !== undefined)
      jira.expireSearchTokens()
      pinecone.reset()
      await runChunk(kind, scopeOf('OPS'), first.cursor)
      // Issue 100 (the newest written) is read again; 101–150 follow.
      expect(jiraKeys()).toHaveLength(51)
      expect(jiraKeys()).toContain('jira-OPS-100')
      const restart = windowSearches().at(-1)?.query.get('jql')
      expect(restart).toContain(`updated >= ${first.cursor.lastUpdatedMs}`)
    })

    it('reads again an issue updated while paging, so the vector ends with its new text', async () => {
      jira.setIssues(issues('OPS', 150))
      jira.onSearchPage(({ page }) => {
        if (page === 2) {
          jira.setNow(new Date(NOW_MS - 1000))
          jira.updateIssue('OPS-3', { summary: 'Renamed while paging' })
        }
      })
      await runChunk(createJiraBackfillKind(deps()), scopeOf('OPS'))
      expect(jiraKeys()).toHaveLength(150)
      expect(pinecone.vectors('').get('jira-OPS-3')?.metadata?.title).toBe(
        'OPS-3: Renamed while paging',
      )
    })

    it('moves the watermark only when the chunk completes, and a sync starts from it less the overlap', async () => {
      jira.setIssues(issues('OPS', 150))
      const kind = createJiraSyncKind(deps())
      const [scope] = (await kind.plan({ projects: ['OPS'] })) as JiraScope[]
      const id = projectId('OPS')
      expect(scope).toEqual({
        project: 'OPS',
        projectId: id,
        fromMs: NOW_MS - 2 * DAY,
        toMs: NOW_MS,
      })
      const scopeWide = { ...scope!, fromMs: NOW_MS - 30 * DAY }
      await runChunk(kind, scopeWide, null, 1)
      expect(await watermark('OPS')).toBeUndefined()
      await runChunk(kind, scopeWide)
      expect(await watermark('OPS')).toBe(NOW_MS)
      const later = createJiraSyncKind(deps({ clock: fixedClock(new Date(NOW_MS + DAY)) }))
      expect(await later.plan({ projects: ['OPS'] })).toEqual([
        { project: 'OPS', projectId: id, fromMs: NOW_MS - SYNC_OVERLAP_MS, toMs: NOW_MS + DAY },
      ])
    })

    it('lets a backfill move the watermark only when it leaves no gap, one kept under the key too', async () => {
      jira.setIssues(issues('OPS', 3))
      // Kept under the project's key, as before ids: adopted under its id.
      await getDatabase()
        .db.insert(syncState)
        .values({
          source: 'jira',
          scope: 'OPS',
          watermark: new Date(NOW_MS - 5 * DAY),
        })
      const kind = createJiraBackfillKind(deps())
      await runChunk(kind, scopeOf('OPS', 1))
      expect(await watermark('OPS')).toBe(NOW_MS - 5 * DAY)
      await runChunk(kind, scopeOf('OPS', 30))
      expect(await watermark('OPS')).toBe(NOW_MS)
    })

    it('deletes the vectors of issues deleted or moved away, and writes a moved one under its new key', async () => {
      jira.setIssues([...issues('OPS', 5), ...issues('WEB', 2)])
      const backfill = createJiraBackfillKind(deps())
      await runChunk(backfill, scopeOf('OPS'))
      await runChunk(backfill, scopeOf('WEB'))
      expect(jiraKeys()).toHaveLength(7)
      jira.deleteIssue('OPS-2')
      jira.deleteIssue('OPS-4')
      // A move keeps the issue's id and gives it a key in the new project.
      const moved = jira.issues().find((issue) => issue.key === 'OPS-5')!
      jira.deleteIssue('OPS-5')
      jira.addIssue(
        aJiraIssue({
          id: moved.id,
          key: 'WEB-3',
          fields: { summary: 'Moved from OPS', updated: jiraTimestamp(NOW_MS - 60_000) },
        }),
      )
      const captured = captureLog()
      const sync = createJiraSyncKind(deps({ log: captured.log }))
      const scopes = (await sync.plan({ projects: ['OPS', 'WEB'] })) as JiraScope[]
      const steps = []
      for (const scope of scopes) {
        steps.push(await runChunk(sync, scope))
      }
      expect(jiraKeys()).toEqual([
        'jira-OPS-1',
        'jira-OPS-3',
        'jira-WEB-1',
        'jira-WEB-2',
        'jira-WEB-3',
      ])
      expect(pinecone.vectors('').get('jira-WEB-3')?.metadata?.title).toBe('WEB-3: Moved from OPS')
      // The gone keys, asked of Jira again and deleted; nothing of WEB's.
      expect(steps[0]).toContainEqual({
        kind: 'page',
        cursor: expect.objectContaining({ reconcile: expect.objectContaining({ deleted: 3 }) }),
        fetched: 3,
        written: 3,
      })
      expect(steps[1]?.at(-1)).toMatchObject({ cursor: { reconcile: { deleted: 0 } } })
      const logged = captured.lines.find((line) => line.project === 'OPS' && 'deleted' in line)
      expect(logged, captured.text()).toMatchObject({ deleted: 3 })
      const scans = jira.requests.filter(
        (r) => r.query.get('jql') === `project = ${projectId('OPS')} ORDER BY key ASC`,
      )
      expect(scans.at(-1)?.query.get('fields')).toBe('key')
      expect(scans.at(-1)?.query.get('maxResults')).toBe('5000')
    })

    it('reconciles project AB without touching the vectors of project ABC', async () => {
      jira.setIssues([...issues('AB', 2), ...issues('ABC', 1)])
      seedVectors('jira-AB-9', 'jira-ABC-1', 'jira-ABC-9')
      await runChunk(createJiraBackfillKind(deps()), scopeOf('AB'))
      expect(jiraKeys()).toEqual(['jira-AB-1', 'jira-AB-2', 'jira-ABC-1', 'jira-ABC-9'])
      const lists = pinecone.requests.filter((r) => r.path === '/vectors/list')
      // Counted in one listing, then deleted by name (1 of 3 is under the brake).
      expect(lists.map((r) => r.query.get('prefix'))).toEqual(['jira-AB-'])
    })

    it('resumes a chunk checkpointed after its last page with the reconcile alone', async () => {
      jira.setIssues(issues('OPS', 2))
      seedVectors('jira-OPS-1', 'jira-OPS-2', 'jira-OPS-3')
      const cursor: JiraCursor = { fromMs: NOW_MS - DAY, phase: 'reconcile' }
      const steps = await runChunk(createJiraSyncKind(deps()), scopeOf('OPS', 1), cursor)
      expect(steps.map((s) => s.kind === 'page' && [s.fetched, s.written])).toEqual([
        [2, 0], // the key scan
        [3, 0], // counting
        [1, 1], // deleting the gone key, asked of Jira again
      ])
      expect(jiraKeys()).toEqual(['jira-OPS-1', 'jira-OPS-2'])
      expect(windowSearches()).toEqual([])
      expect(await watermark('OPS')).toBe(NOW_MS)
    })

    it('deletes nothing, and warns in the job’s progress, when Jira returns no issue of a project that has vectors', async () => {
      jira.setProjects([{ id: '9', key: 'GONE', name: 'Emptied, or no longer visible' }])
      seedVectors('jira-GONE-1', 'jira-GONE-2')
      const captured = captureLog()
      const steps = await runChunk(
        createJiraBackfillKind(deps({ log: captured.log })),
        scopeOf('GONE'),
      )
      expect(steps.at(-1)).toMatchObject({
        kind: 'page',
        written: 0,
        warning: expect.stringContaining('Held back 2 deletions of project GONE'),
      })
      expect(jiraKeys()).toEqual(['jira-GONE-1', 'jira-GONE-2'])
      expect(pinecone.requests.some((r) => r.path === '/vectors/delete')).toBe(false)
      const warning = captured.lines.find((line) => line.level === 'warn')
      expect(warning, captured.text()).toMatchObject({ project: 'GONE', gone: 2, stored: 2 })
    })
  })

  describe('upstream changes', () => {
    it('moves every vector of a renamed project to its new key, reached by its old key too', async () => {
      jira.setIssues(issues('BETA', 12))
      const backfill = createJiraBackfillKind(deps())
      await runChunk(backfill, scopeOf('BETA'))
      expect(jiraKeys()).toHaveLength(12)
      jira.renameProject('BETA', 'DELTA')
      // The sync names the project by its old key, and nothing was updated since.
      const sync = createJiraSyncKind(deps())
      const scopes = (await sync.plan({ projects: ['BETA'] })) as JiraScope[]
      expect(scopes.map((scope) => [scope.project, scope.projectId])).toEqual([
        ['DELTA', projectId('BETA')],
      ])
      await runChunk(sync, scopes[0]!)
      expect(jiraKeys()).toEqual(Array.from({ length: 12 }, (_, n) => `jira-DELTA-${n + 1}`).sort())
      expect(pinecone.vectors('').get('jira-DELTA-7')?.metadata).toMatchObject({
        issue_key: 'DELTA-7',
        project_key: 'DELTA',
        url: `${jira.url}/browse/DELTA-7`,
      })
    })

    it('moves an issue from a project no chunk covers again when deleting its old vector failed', async () => {
      jira.setIssues([...issues('SRC', 1), ...issues('DST', 1)])
      const backfill = createJiraBackfillKind(deps())
      await runChunk(backfill, scopeOf('SRC'))
      const moved = jira.moveIssue('SRC-1', 'DST')
      expect(moved.key).toBe('DST-2')
      pinecone.fail({
        kind: 'respond',
        path: '/vectors/delete',
        status: 429,
        headers: { 'retry-after': '2' },
        times: 1,
      })
      const failed = await runChunk(backfill, scopeOf('DST'))
      expect(failed.at(-1)).toMatchObject({ kind: 'retry', reason: 'pinecone-rate-limited' })
      expect(jiraKeys()).toEqual(['jira-DST-1', 'jira-DST-2', 'jira-SRC-1'])
      // The retry still knows the vector to move: SRC's reconcile, which would find it, never runs.
      await runChunk(backfill, scopeOf('DST'))
      expect(jiraKeys()).toEqual(['jira-DST-1', 'jira-DST-2'])
    })

    it('never lets an older read of an issue overwrite a newer vector', async () => {
      const [fresh] = issues('ORD', 1)
      jira.setIssues([fresh!])
      await runChunk(createJiraBackfillKind(deps()), scopeOf('ORD'))
      jira.updateIssue('ORD-1', { summary: 'Newer text' })
      await runChunk(createJiraSyncKind(deps()), scopeOf('ORD'))
      expect(pinecone.vectors('').get('jira-ORD-1')?.metadata?.title).toBe('ORD-1: Newer text')
      // A worker that read the issue before the edit writes late: it is skipped.
      jira.setIssues([fresh!])
      await runChunk(createJiraBackfillKind(deps()), scopeOf('ORD'))
      expect(pinecone.vectors('').get('jira-ORD-1')?.metadata?.title).toBe('ORD-1: Newer text')
    })

    it('holds a mass deletion with a warning until a start confirms it', async () => {
      jira.setIssues(issues('MASS', 40))
      const backfill = createJiraBackfillKind(deps())
      await runChunk(backfill, scopeOf('MASS'))
      for (let n = 1; n <= 30; n += 1) {
        jira.deleteIssue(`MASS-${n}`)
      }
      const held = await runChunk(createJiraSyncKind(deps()), scopeOf('MASS'))
      expect(held).toContainEqual(
        expect.objectContaining({
          warning: expect.stringMatching(
            /^Held back 30 deletions of project MASS \(75% of 40 stored/,
          ),
        }),
      )
      expect(jiraKeys()).toHaveLength(40)
      const confirmed = await runChunkWith(backfill, scopeOf('MASS'), { confirmDeletions: true })
      expect(confirmed.some((step) => step.kind === 'page' && step.warning)).toBe(false)
      expect(jiraKeys()).toHaveLength(10)
    })
  })

  describe('large deletions', () => {
    it('deletes more gone vectors than it keeps by name by listing them again, once confirmed', async () => {
      jira.setIssues(issues('MANY', 1_100))
      const backfill = createJiraBackfillKind(deps())
      await runChunk(backfill, scopeOf('MANY'), null, 1_000)
      expect(jiraKeys()).toHaveLength(1_100)
      for (let n = 1; n <= 1_050; n += 1) {
        jira.deleteIssue(`MANY-${n}`)
      }
      const steps = await runChunkWith(
        backfill,
        scopeOf('MANY'),
        { confirmDeletions: true },
        null,
        1_000,
      )
      expect(steps.every((step) => step.kind === 'page' && !step.warning)).toBe(true)
      expect(jiraKeys()).toEqual(
        Array.from({ length: 50 }, (_, n) => `jira-MANY-${1_051 + n}`).sort(),
      )
      // The first run listed once; this one counts in one listing and deletes in a second (1,050
      // gone is more than it keeps by name).
      const lists = pinecone.requests.filter((r) => r.path === '/vectors/list')
      expect(lists.filter((r) => r.query.get('paginationToken') === null)).toHaveLength(3)
    })
  })

  describe('errors', () => {
    it('asks for a retry with Jira’s wait on 429, and writes nothing', async () => {
      jira.setIssues(issues('OPS', 3))
      jira.rateLimit({ retryAfterSeconds: 9 })
      const steps = await runChunk(createJiraBackfillKind(deps()), scopeOf('OPS'))
      expect(steps).toEqual([{ kind: 'retry', reason: 'jira-rate-limited', retryAfterMs: 9000 }])
      expect(jiraKeys()).toEqual([])
    })

    it('asks for a retry on 503 and on a Pinecone 429', async () => {
      jira.setIssues(issues('OPS', 3))
      jira.unavailable({ retryAfterSeconds: 2 })
      expect(await runChunk(createJiraBackfillKind(deps()), scopeOf('OPS'))).toEqual([
        { kind: 'retry', reason: 'jira-unavailable', retryAfterMs: 2000 },
      ])
      pinecone.fail({
        kind: 'respond',
        path: '/vectors/upsert',
        status: 429,
        headers: { 'retry-after': '4' },
        times: 1,
      })
      const steps = await runChunk(createJiraBackfillKind(deps()), scopeOf('OPS'))
      // The key scan beside the page may have checkpointed first.
      expect(steps.at(-1)).toEqual({
        kind: 'retry',
        reason: 'pinecone-rate-limited',
        retryAfterMs: 4000,
      })
      expect(pageSteps(steps, { fromMs: scopeOf('OPS').fromMs })).toEqual([])
      expect(jiraKeys()).toEqual([])
    })

    it('asks for a retry and deletes nothing when the key scan fails after its first page', async () => {
      // More than one page of keys (5000 each), so the failure leaves the scan half done.
      jira.setIssues(issues('OPS', 5001))
      seedVectors('jira-OPS-1', 'jira-OPS-5001', 'jira-OPS-9999')
      jira.onSearchPage(({ page, jql }) => {
        if (page === 1 && jql.endsWith('ORDER BY key ASC')) {
          jira.unavailable({ retryAfterSeconds: 3 })
        }
      })
      const cursor: JiraCursor = { fromMs: NOW_MS - DAY, phase: 'reconcile' }
      const steps = await runChunk(createJiraSyncKind(deps()), scopeOf('OPS', 1), cursor)
      expect(steps).toEqual([
        expect.objectContaining({ kind: 'page', fetched: 5000, written: 0 }),
        { kind: 'retry', reason: 'jira-unavailable', retryAfterMs: 3000 },
      ])
      expect(jiraKeys()).toEqual(['jira-OPS-1', 'jira-OPS-5001', 'jira-OPS-9999'])
      expect(pinecone.requests.some((r) => r.path === '/vectors/delete')).toBe(false)
      const scans = jira.requests.filter((r) => r.query.get('jql')?.endsWith('ORDER BY key ASC'))
      expect(scans).toHaveLength(2)
    })

    it('asks for a retry when Pinecone fails to list or delete during the reconcile', async () => {
      jira.setIssues(issues('OPS', 1))
      seedVectors('jira-OPS-1', 'jira-OPS-2')
      const cursor: JiraCursor = { fromMs: NOW_MS - DAY, phase: 'reconcile' }
      const kind = createJiraSyncKind(deps())
      pinecone.fail({
        kind: 'respond',
        path: '/vectors/list',
        status: 429,
        headers: { 'retry-after': '2' },
        times: 1,
      })
      expect((await runChunk(kind, scopeOf('OPS', 1), cursor)).at(-1)).toEqual({
        kind: 'retry',
        reason: 'pinecone-rate-limited',
        retryAfterMs: 2000,
      })
      pinecone.fail({
        kind: 'respond',
        path: '/vectors/delete',
        status: 429,
        headers: { 'retry-after': '2' },
        times: 1,
      })
      expect((await runChunk(kind, scopeOf('OPS', 1), cursor)).at(-1)).toEqual({
        kind: 'retry',
        reason: 'pinecone-rate-limited',
        retryAfterMs: 2000,
      })
      expect(jiraKeys()).toEqual(['jira-OPS-1', 'jira-OPS-2'])
    })

    it('fails the chunk for good with a clear message when Jira refuses the credentials', async () => {
      jira.setIssues(issues('OPS', 3))
      const bad = jiraClientOn(jira, { apiToken: 'nope' })
      const error = await runChunk(
        createJiraBackfillKind(deps({ jira: bad })),
        scopeOf('OPS'),
      ).catch((e: unknown) => e)
      assert(error instanceof AppError, String(error))
      expect(error.retryable).toBe(false)
      expect(error.message).toMatch(/Jira refused the credentials/)
    })

    it('refuses to plan or run without Jira or Pinecone settings', async () => {
      const noJira = createJiraBackfillKind(deps({ jira: undefined }))
      await expect(noJira.plan({ days: 1, projects: ['OPS'] })).rejects.toThrow(/JIRA_BASE_URL/)
      await expect(noJira.plan({ days: 1, projects: ['OPS'] })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        retryable: false,
      })
      const noPinecone = createJiraBackfillKind(deps({ pinecone: undefined }))
      const error = await runChunk(noPinecone, scopeOf('OPS')).catch((e: unknown) => e)
      assert(error instanceof AppError)
      expect(error.retryable).toBe(false)
      expect(error.message).toMatch(/PINECONE_API_KEY/)
    })

    it('gives up planning when Jira does not list its projects before the deadline', async () => {
      jira.fail({ kind: 'hang', path: '/rest/api/3/project/search', times: 1 })
      const kind = createJiraBackfillKind(deps({ planTimeoutMs: 200 }))
      await expect(kind.plan({ days: 1 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: 'Jira did not answer in time; try again.',
      })
      expect(jira.requests).toHaveLength(1)
    })

    it('fails for good when the index dimension does not match the model', async () => {
      jira.setIssues(issues('OPS', 3))
      const small = await startFakePinecone({ dimension: 8 })
      try {
        const sink = createPineconeSink({
          apiKey: small.apiKey,
          indexHost: small.url,
          controllerUrl: small.url,
          namespace: '',
          embedModel: 'llama-text-embed-v2',
        })
        const error = await runChunk(
          createJiraBackfillKind(deps({ pinecone: sink })),
          scopeOf('OPS'),
        ).catch((e: unknown) => e)
        assert(error instanceof AppError)
        expect(error.retryable).toBe(false)
        expect(error.message).toMatch(/dimension 8/)
        expect(small.vectors('').size).toBe(0)
      } finally {
        await small.close()
      }
    })
  })
})
