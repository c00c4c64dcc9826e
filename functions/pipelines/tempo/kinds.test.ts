import { and, eq, inArray } from 'drizzle-orm'
import { assert, describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { LeaseLostError } from '#core/jobs/lease-fence.ts'
import type { JobKind, Json, StepResult } from '#core/jobs/types.ts'
import { jiraIssueKeys, projects, syncState, tempoWorklogs } from '#db/schema.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { aJiraIssue, aJiraUser, type JiraIssue, type JiraUser } from '#sandbox/fakes/jira-data.ts'
import { aWorklog, type FakeTempoWorklog } from '#sandbox/fakes/tempo-data.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeJira, useFakePinecone, useFakeTempo } from '#test/fakes.ts'
import { heldLease } from '#test/lease.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { jiraClientOn, pineconeSinkOn, tempoClientOn } from '#test/upstreams.ts'
import { createTempoKinds, type TempoKindDeps, windowsOf } from './kinds.ts'
import type { UpdatedCursor, WindowCursor, WindowScope } from './scan.ts'

const getDatabase = useTestDatabase()
const tempo = useFakeTempo()
const jira = useFakeJira()
const pinecone = useFakePinecone()

const ada = aJiraUser({ accountId: 'acc-ada', displayName: 'Ada Lovelace' })
const grace = aJiraUser({ accountId: 'acc-grace', displayName: 'Grace Hopper' })

function kinds(overrides: Partial<TempoKindDeps> = {}) {
  const log = captureLog()
  const deps: TempoKindDeps = {
    db: getDatabase().db,
    log: log.log,
    clock: fixedClock('2025-06-30T12:00:00Z'),
    tempo: tempoClientOn(tempo),
    jira: jiraClientOn(jira),
    pinecone: pineconeSinkOn(pinecone),
    options: { pageSize: 2 },
    ...overrides,
  }
  return { ...createTempoKinds(deps), log }
}

/** Runs a chunk until it ends or asks for a retry; returns the steps it yielded. */
async function runChunk(kind: JobKind, scope: Json, cursor: Json | null = null) {
  const steps: StepResult[] = []
  const signal = new AbortController().signal
  for await (const step of kind.run({
    jobId: 'job',
    params: {},
    scope,
    cursor,
    signal,
    lease: await heldLease(getDatabase().pool),
  })) {
    steps.push(step)
    if (step.kind === 'retry') {
      break
    }
  }
  return steps
}

function lastCursor<C>(steps: StepResult[]): C {
  const pages = steps.filter((step) => step.kind === 'page')
  return pages.at(-1)?.cursor as C
}

function window(from: string, to: string, keys: string[] | null): WindowScope {
  return { mode: 'window', from, to, projects: keys }
}

/** Jira knows these issues and (explicitly) these people; Tempo holds these worklogs. */
function given(issues: JiraIssue[], users: JiraUser[], worklogs: FakeTempoWorklog[]) {
  jira.setIssues(issues)
  jira.setUsers(users)
  tempo.setWorklogs(worklogs)
}

function issue(key: string, id: string): JiraIssue {
  return aJiraIssue({ key, id })
}

function worklogOn(jiraIssue: JiraIssue, overrides: Partial<FakeTempoWorklog>): FakeTempoWorklog {
  return aWorklog({
    issueId: Number(jiraIssue.id),
    projectId: Number(jiraIssue.fields.project.id),
    authorAccountId: ada.accountId,
    ...overrides,
  })
}

async function rows(projectKey: string) {
  return getDatabase()
    .db.select()
    .from(tempoWorklogs)
    .where(eq(tempoWorklogs.projectKey, projectKey))
    .orderBy(tempoWorklogs.worklogId)
}

function vectorIds(prefix = 'tempo-') {
  return [...pinecone.vectors('').keys()].filter((id) => id.startsWith(prefix)).sort()
}

const jiraLookups = () =>
  jira.requests.filter((r) => r.path === '/rest/api/3/search/jql' && r.method === 'POST')
const userLookups = () => jira.requests.filter((r) => r.path === '/rest/api/3/user/bulk')

describe('tempo job kinds', () => {
  describe('happy', () => {
    it('imports a window page by page, with keys and names from Jira and the original metadata', async () => {
      const one = issue('HAPPY-1', '31001')
      const two = issue('HAPPY-2', '31002')
      given(
        [one, two],
        [ada, grace],
        [
          worklogOn(one, {
            tempoWorklogId: 101,
            startDate: '2025-01-06',
            timeSpentSeconds: 5400,
            description: 'see OTHER-99',
          }),
          worklogOn(two, {
            tempoWorklogId: 102,
            startDate: '2025-01-07',
            authorAccountId: grace.accountId,
          }),
          worklogOn(one, { tempoWorklogId: 103, startDate: '2025-01-08', description: '' }),
        ],
      )
      const { backfill } = kinds()
      const steps = await runChunk(backfill, window('2025-01-01', '2025-01-30', ['HAPPY']))
      expect(steps.map((s) => s.kind === 'page' && [s.fetched, s.written, s.failed])).toEqual([
        [2, 2, 0],
        [1, 1, 0],
      ])
      const stored = await rows('HAPPY')
      expect(stored.map((r) => [r.worklogId, r.issueKey, r.userDisplayName, r.hours])).toEqual([
        ['101', 'HAPPY-1', 'Ada Lovelace', 1.5],
        ['102', 'HAPPY-2', 'Grace Hopper', 1.5],
        ['103', 'HAPPY-1', 'Ada Lovelace', 1.5],
      ])
      const vector = pinecone.vectors('').get('tempo-101')
      expect(vector?.metadata).toMatchObject({
        worklog_id: 101,
        issue_key: 'HAPPY-1', // from Jira, not the description's OTHER-99
        project_key: 'HAPPY',
        author_name: 'Ada Lovelace',
        author_account_id: 'acc-ada',
        hours_logged: 1.5,
        source: 'tempo',
        access_type: 'all',
        title: 'HAPPY-1: 1.5h by Ada Lovelace',
      })
      expect(vectorIds()).toEqual(['tempo-101', 'tempo-102', 'tempo-103'])
      // Page 1 asked Jira once for both issues and once for both people; page 2 had it all cached.
      expect(jiraLookups()).toHaveLength(1)
      expect(userLookups()).toHaveLength(1)
      expect(userLookups()[0]?.query.getAll('accountId').sort()).toEqual(['acc-ada', 'acc-grace'])
    })

    it('hands the chunk’s abort signal to every Jira and Pinecone call', async () => {
      // An issue and an author no earlier test cached, so both lookups reach Jira.
      const one = issue('SIG-1', '39901')
      const signe = aJiraUser({ accountId: 'acc-signal', displayName: 'Signe' })
      given(
        [one],
        [signe],
        [
          worklogOn(one, {
            tempoWorklogId: 3991,
            startDate: '2025-03-03',
            authorAccountId: signe.accountId,
          }),
        ],
      )
      const calls: Array<[string, AbortSignal | undefined]> = []
      const realJira = jiraClientOn(jira)
      const realSink = pineconeSinkOn(pinecone)
      const { backfill } = kinds({
        jira: {
          ...realJira,
          issueKeysByIds: (ids, signal) => {
            calls.push(['issueKeysByIds', signal])
            return realJira.issueKeysByIds(ids, signal)
          },
          usersByAccountIds: (ids, signal) => {
            calls.push(['usersByAccountIds', signal])
            return realJira.usersByAccountIds(ids, signal)
          },
        },
        pinecone: {
          deleteIds: realSink.deleteIds,
          upsertDocuments: (docs, signal) => {
            calls.push(['upsertDocuments', signal])
            return realSink.upsertDocuments(docs, signal)
          },
        },
      })
      const controller = new AbortController()
      const scope = window('2025-03-01', '2025-03-30', ['SIG'])
      const steps: StepResult[] = []
      for await (const step of backfill.run({
        jobId: 'job',
        lease: await heldLease(getDatabase().pool),
        params: {},
        scope,
        cursor: null,
        signal: controller.signal,
      })) {
        steps.push(step)
      }
      expect(steps.map((step) => step.kind)).toEqual(['page'])
      expect(calls.map(([name]) => name)).toEqual([
        'issueKeysByIds',
        'usersByAccountIds',
        'upsertDocuments',
      ])
      expect(calls.every(([, signal]) => signal === controller.signal)).toBe(true)
    })

    it('keeps only the job’s projects, asking Tempo by their ids', async () => {
      const kept = issue('KEEP-1', '32001')
      const other = issue('SKIP-1', '32002')
      given(
        [kept, other],
        [ada],
        [
          worklogOn(kept, { tempoWorklogId: 201, startDate: '2025-02-02' }),
          worklogOn(other, { tempoWorklogId: 202, startDate: '2025-02-03' }),
          worklogOn(other, { tempoWorklogId: 203, startDate: '2025-02-04' }),
        ],
      )
      const steps = await runChunk(kinds().backfill, window('2025-02-01', '2025-02-28', ['KEEP']))
      // Tempo is asked for the kept project's id: the others are never fetched.
      expect(lastCursor<WindowCursor>(steps)).toMatchObject({ skipped: 0, unresolved: 0 })
      expect(tempo.requests[0]?.query.getAll('projectId')).toEqual([kept.fields.project.id])
      expect((await rows('KEEP')).map((r) => r.worklogId)).toEqual(['201'])
      expect(await rows('SKIP')).toEqual([])
      expect(vectorIds()).toEqual(['tempo-201'])
    })

    it('plans 30-day windows of the active projects, without waiting for Jira', async () => {
      const { db } = getDatabase()
      await db.insert(projects).values([
        { key: 'PLANA', isActive: true },
        { key: 'PLANB', isActive: true },
        { key: 'PLANC', isActive: false },
      ])
      const scopes = await kinds().backfill.plan({ from: '2025-01-01', to: '2025-03-05' })
      await db.delete(projects).where(inArray(projects.key, ['PLANA', 'PLANB', 'PLANC']))
      const projectScope = { projects: ['PLANA', 'PLANB'] }
      expect(scopes).toEqual([
        { mode: 'window', from: '2025-01-01', to: '2025-01-30', ...projectScope },
        { mode: 'window', from: '2025-01-31', to: '2025-03-01', ...projectScope },
        { mode: 'window', from: '2025-03-02', to: '2025-03-05', ...projectScope },
      ])
      const named = await kinds().backfill.plan({
        from: '2025-01-01',
        to: '2025-01-01',
        projects: ['PLANB'],
      })
      expect(named).toEqual([
        { mode: 'window', from: '2025-01-01', to: '2025-01-01', projects: ['PLANB'] },
      ])
      expect(jira.requests).toEqual([])
    })

    it('runs a window planned with project ids (an older plan’s scope) as it runs any other', async () => {
      const kept = issue('FILT-1', '33001')
      const other = issue('NOFILT-1', '33002')
      given(
        [kept, other],
        [],
        [
          worklogOn(kept, { tempoWorklogId: 301, startDate: '2025-03-02' }),
          worklogOn(other, { tempoWorklogId: 302, startDate: '2025-03-03' }),
        ],
      )
      // The ids planned then are not read: each attempt resolves the projects through Jira.
      const scope = { ...window('2025-03-01', '2025-03-30', ['FILT']), projectIds: ['10'] }
      const steps = await runChunk(kinds().backfill, scope)
      expect(steps).toMatchObject([{ kind: 'page', fetched: 1, written: 1 }])
      expect(tempo.requests[0]?.query.getAll('projectId')).toEqual([kept.fields.project.id])
      expect(lastCursor<WindowCursor>(steps).skipped).toBe(0)
    })

    it('removes from both stores what Tempo no longer has in the window, and only that', async () => {
      const one = issue('GONE-1', '34001')
      given(
        [one],
        [ada],
        [
          worklogOn(one, { tempoWorklogId: 401, startDate: '2025-04-02' }),
          worklogOn(one, { tempoWorklogId: 402, startDate: '2025-04-03' }),
          worklogOn(one, { tempoWorklogId: 403, startDate: '2025-05-20' }), // another window
        ],
      )
      const { backfill } = kinds()
      await runChunk(backfill, window('2025-04-01', '2025-04-30', ['GONE']))
      await runChunk(backfill, window('2025-05-01', '2025-05-30', ['GONE']))
      tempo.deleteWorklog(402)
      tempo.deleteWorklog(403)
      const steps = await runChunk(backfill, window('2025-04-01', '2025-04-30', ['GONE']))
      expect(lastCursor<WindowCursor>(steps).deleted).toBe(1)
      expect((await rows('GONE')).map((r) => r.worklogId)).toEqual(['401', '403'])
      expect(vectorIds()).toEqual(['tempo-401', 'tempo-403'])
      const deletes = pinecone.requests.filter((r) => r.path === '/vectors/delete')
      expect(deletes.map((r) => (r.body as { ids: string[] }).ids)).toEqual([['tempo-402']])
    })

    it('keeps a worklog that offset paging skipped while Tempo changed between pages', async () => {
      const one = issue('SHIFT-1', '35001')
      const days = ['01', '02', '03', '04', '05']
      given(
        [one],
        [ada],
        days.map((d, n) => worklogOn(one, { tempoWorklogId: 501 + n, startDate: `2025-06-${d}` })),
      )
      const { backfill } = kinds()
      await runChunk(backfill, window('2025-06-01', '2025-06-10', ['SHIFT']))
      // A second scan: after its first page, 501 is deleted, so offset 2 starts at 504 and 503 is
      // never listed. The check must find 503 in Tempo and keep it; 501 must go.
      const scope = window('2025-06-01', '2025-06-10', ['SHIFT'])
      const signal = new AbortController().signal
      const steps = backfill.run({
        jobId: 'job',
        params: {},
        scope,
        cursor: null,
        signal,
        lease: await heldLease(getDatabase().pool),
      })
      const first = await steps.next()
      assert(!first.done && first.value.kind === 'page')
      tempo.deleteWorklog(501)
      const rest: StepResult[] = [first.value]
      for await (const step of steps) {
        rest.push(step)
      }
      // 503 was found by the check, which asks Tempo by issue id, and stays; 501 was seen on the
      // first page before it went, so the next scan removes it.
      const check = tempo.requests.filter((r) => r.query.has('issueId'))
      expect(new Set(check.flatMap((r) => r.query.getAll('issueId')))).toEqual(new Set(['35001']))
      expect((await rows('SHIFT')).map((r) => r.worklogId)).toEqual([
        '501',
        '502',
        '503',
        '504',
        '505',
      ])
      expect(lastCursor<WindowCursor>(rest).deleted).toBe(0)
      await runChunk(backfill, scope)
      expect((await rows('SHIFT')).map((r) => r.worklogId)).toEqual(['502', '503', '504', '505'])
      expect(vectorIds()).toEqual(['tempo-502', 'tempo-503', 'tempo-504', 'tempo-505'])
    })

    it('falls back to "Unknown" for an author Jira does not know, and does not cache that', async () => {
      const one = issue('ANON-1', '36001')
      given(
        [one],
        [],
        [
          worklogOn(one, {
            tempoWorklogId: 601,
            authorAccountId: 'acc-ghost',
            startDate: '2025-07-01',
          }),
          worklogOn(one, {
            tempoWorklogId: 602,
            authorAccountId: 'acc-ghost',
            startDate: '2025-07-02',
          }),
          worklogOn(one, {
            tempoWorklogId: 603,
            authorAccountId: 'acc-ghost',
            startDate: '2025-07-03',
          }),
        ],
      )
      await runChunk(kinds().backfill, window('2025-07-01', '2025-07-30', ['ANON']))
      expect((await rows('ANON')).map((r) => r.userDisplayName)).toEqual([
        'Unknown',
        'Unknown',
        'Unknown',
      ])
      expect(pinecone.vectors('').get('tempo-601')?.metadata).toMatchObject({
        author_name: 'Unknown',
      })
      expect(pinecone.vectors('').get('tempo-601')?.metadata).not.toHaveProperty('author_email')
      // Asked again on the second page: a miss is not cached.
      expect(userLookups()).toHaveLength(2)
    })

    it('syncs worklogs updated since the watermark less the overlap, then moves the watermark', async () => {
      const { db } = getDatabase()
      const one = issue('SYNC-1', '37001')
      given(
        [one],
        [ada],
        [
          worklogOn(one, {
            tempoWorklogId: 701,
            startDate: '2024-01-05',
            updatedAt: '2025-06-29T10:30:00Z',
          }),
          worklogOn(one, {
            tempoWorklogId: 702,
            startDate: '2024-01-06',
            updatedAt: '2025-06-28T08:00:00Z',
          }),
        ],
      )
      await db
        .insert(syncState)
        .values({ source: 'tempo', scope: '', watermark: new Date('2025-06-29T11:00:00Z') })
      const { sync } = kinds()
      const steps = await runChunk(sync, { mode: 'updated', projects: ['SYNC'] })
      expect(tempo.requests[0]?.query.get('updatedFrom')).toBe('2025-06-29T10:00:00Z')
      expect((await rows('SYNC')).map((r) => r.worklogId)).toEqual(['701'])
      const cursor = lastCursor<UpdatedCursor>(steps)
      const [state] = await db.select().from(syncState).where(eq(syncState.source, 'tempo'))
      expect(state?.watermark.toISOString()).toBe(cursor.startedAt)
      expect(Date.parse(cursor.startedAt)).toBeGreaterThan(Date.parse('2025-06-29T11:00:00Z'))
      await db.delete(syncState).where(and(eq(syncState.source, 'tempo'), eq(syncState.scope, '')))
    })

    it('plans the daily sync as the updates plus a rescan of the last days', async () => {
      const scopes = await kinds().sync.plan({ day: '2025-06-30' })
      expect(scopes).toEqual([
        { mode: 'updated', projects: null },
        { mode: 'window', from: '2025-06-16', to: '2025-06-30', projects: null },
      ])
    })

    it('is registered with the worker, and its daily sync with jobs/sync', () => {
      const services = testServices({ database: getDatabase() })
      const registry = createPipelineRegistry(services)
      expect(registry.get('backfill-tempo')?.kind).toBe('backfill-tempo')
      expect(registry.get('sync-tempo')?.kind).toBe('sync-tempo')
      const daily = registry.dailySyncs.find((sync) => sync.kind === 'sync-tempo')
      expect(daily?.params('2026-06-01')).toEqual({ day: '2026-06-01' })
    })

    it('splits ranges into windows that cover every day once', () => {
      expect(windowsOf('2024-02-01', '2024-03-31', 30)).toEqual([
        { from: '2024-02-01', to: '2024-03-01' },
        { from: '2024-03-02', to: '2024-03-31' },
      ])
      expect(windowsOf('2024-02-01', '2024-02-01', 30)).toEqual([
        { from: '2024-02-01', to: '2024-02-01' },
      ])
    })
  })

  describe('upstream changes', () => {
    it('writes a worklog under its issue’s new key once Jira moved the issue to another project', async () => {
      const moving = issue('MOVA-1', '40001')
      given(
        [moving, issue('MOVB-1', '40002')],
        [ada],
        [worklogOn(moving, { tempoWorklogId: 4001, startDate: '2025-10-02' })],
      )
      const { backfill } = kinds()
      const scope = window('2025-10-01', '2025-10-30', ['MOVA', 'MOVB'])
      await runChunk(backfill, scope)
      expect((await rows('MOVA')).map((r) => r.issueKey)).toEqual(['MOVA-1'])
      // Same id, a key in the other project; MOVA keeps its key, so nothing about the stored
      // answer looks stale.
      const moved = jira.moveIssue('MOVA-1', 'MOVB')
      tempo.setWorklogs([worklogOn(moved, { tempoWorklogId: 4001, startDate: '2025-10-02' })])
      await runChunk(backfill, scope)
      expect(await rows('MOVA')).toEqual([])
      expect((await rows('MOVB')).map((r) => [r.worklogId, r.issueKey])).toEqual([
        ['4001', 'MOVB-2'],
      ])
      expect(pinecone.vectors('').get('tempo-4001')?.metadata).toMatchObject({
        issue_key: 'MOVB-2',
        project_key: 'MOVB',
      })
    })

    it('weighs a renamed project’s deletions against its rows under the old and the new key', async () => {
      const one = issue('RNA-1', '44001')
      const worklogs = Array.from({ length: 60 }, (_, n) =>
        worklogOn(one, { tempoWorklogId: 4400 + n, startDate: '2025-12-02' }),
      )
      given([one], [ada], worklogs)
      const { backfill, log } = kinds({ options: { pageSize: 100 } })
      await runChunk(backfill, window('2025-12-01', '2025-12-30', ['RNA']))
      jira.renameProject('RNA', 'RNB')
      tempo.setWorklogs(worklogs.slice(11))
      // 11 of the project's 60 rows are gone (18 %): under the brake's 20 %, though all 11 carry
      // the old key, whose only rows they are.
      const steps = await runChunk(backfill, window('2025-12-01', '2025-12-30', ['RNA']))
      expect(steps.filter((step) => step.kind === 'page' && step.warning)).toEqual([])
      expect(lastCursor<WindowCursor>(steps).deleted).toBe(11)
      expect(await rows('RNA')).toEqual([])
      expect(await rows('RNB')).toHaveLength(49)
      expect(log.lines.some((line) => line.msg === 'tempo deletions held back')).toBe(false)
    })

    it('keeps at most 1000 gone worklogs in the cursor and finds the others in the table again', async () => {
      const { pool } = getDatabase()
      const one = issue('CAP-1', '42001')
      given(
        [one],
        [ada],
        Array.from({ length: 50 }, (_, n) =>
          worklogOn(one, { tempoWorklogId: 4200 + n, startDate: '2025-11-05' }),
        ),
      )
      // 1100 rows stored earlier that Tempo no longer has.
      await pool.query(
        `insert into tempo_worklogs (worklog_id, account_id, issue_id, issue_key, project_key,
           start_date, hours, time_spent_seconds, user_display_name, updated_at)
         select (430000 + g)::text, 'acc-ada', '42001', 'CAP-1', 'CAP', '2025-11-05', 1, 3600,
           'Ada Lovelace', now() - interval '1 hour'
         from generate_series(1, 1100) g`,
      )
      const { backfill } = kinds({ options: { pageSize: 1000 } })
      const steps: StepResult[] = []
      for await (const step of backfill.run({
        jobId: 'job',
        params: { confirmDeletions: true },
        scope: window('2025-11-01', '2025-11-30', ['CAP']),
        cursor: null,
        signal: new AbortController().signal,
        lease: await heldLease(pool),
      })) {
        steps.push(step)
      }
      const cursors = steps.flatMap((step) =>
        step.kind === 'page' ? [step.cursor as WindowCursor] : [],
      )
      expect(Math.max(...cursors.map((cursor) => cursor.gone?.length ?? 0))).toBe(1000)
      // Past 1000, the check's last step and both removal steps name none.
      expect(
        cursors.filter((cursor) => cursor.goneCount === 1100).map((cursor) => cursor.gone),
      ).toEqual([undefined, undefined, undefined])
      expect(lastCursor<WindowCursor>(steps).deleted).toBe(1100)
      expect(await rows('CAP')).toHaveLength(50)
      expect(vectorIds()).toHaveLength(50)
    })

    it('writes, deletes and checkpoints nothing once its lease expired mid-page, though no worker took it over', async () => {
      const { pool } = getDatabase()
      const one = issue('LEAS-1', '41001')
      const worklogs = [4101, 4102, 4103, 4104].map((id, n) =>
        worklogOn(one, { tempoWorklogId: id, startDate: `2025-09-0${n + 2}` }),
      )
      given([one], [ada], worklogs)
      const { backfill } = kinds({ options: { pageSize: 10 } })
      const scope = window('2025-09-01', '2025-09-30', ['LEAS'])
      await runChunk(backfill, scope)
      const before = { rows: await rows('LEAS'), vectors: vectorIds() }
      // 4104 is gone (the check would remove it) and 4103 edited.
      tempo.setWorklogs([
        ...worklogs.slice(0, 2),
        { ...worklogs[2]!, description: 'edited', updatedAt: '2025-09-20T10:00:00Z' },
      ])
      const lease = await heldLease(pool)
      // The database's clock passes the lease's end while Tempo answers; no heartbeat came.
      tempo.onRequest(async () => {
        await pool.query(
          `update job_chunks set lease_expires_at = now() - interval '1 second' where id = $1`,
          [lease.chunkId],
        )
      })
      const steps: StepResult[] = []
      const run = async () => {
        for await (const step of backfill.run({
          jobId: 'job',
          params: {},
          scope,
          cursor: null,
          signal: new AbortController().signal,
          lease,
        })) {
          steps.push(step)
        }
      }
      const deletesBefore = pinecone.requests.filter((r) => r.path === '/vectors/delete').length
      await expect(run()).rejects.toThrow(LeaseLostError)
      tempo.onRequest(undefined)
      expect(steps).toEqual([]) // no page for the engine to checkpoint
      expect(await rows('LEAS')).toEqual(before.rows)
      expect(vectorIds()).toEqual(before.vectors)
      expect(pinecone.requests.filter((r) => r.path === '/vectors/delete')).toHaveLength(
        deletesBefore,
      )
    })

    it('fails the chunk when Jira knows none of the named projects, asking Tempo nothing', async () => {
      const real = issue('REAL-1', '45001')
      given([real], [ada], [worklogOn(real, { tempoWorklogId: 4501, startDate: '2025-08-12' })])
      const { backfill } = kinds()
      await expect(
        runChunk(backfill, window('2025-08-01', '2025-08-30', ['NOPE', 'NADA'])),
      ).rejects.toMatchObject({
        code: 'UPSTREAM_FAILED',
        retryable: false,
        message: 'Jira has no project NOPE, NADA that this account can see.',
      })
      expect(tempo.requests).toEqual([])
    })

    it('leaves out a named project Jira does not know, and says so in the job’s progress', async () => {
      const real = issue('REAL-1', '45001')
      given([real], [ada], [worklogOn(real, { tempoWorklogId: 4501, startDate: '2025-08-12' })])
      const steps = await runChunk(
        kinds().backfill,
        window('2025-08-01', '2025-08-30', ['REAL', 'NOPE']),
      )
      expect(steps[0]).toMatchObject({
        kind: 'page',
        written: 1,
        warning: 'Jira has no project NOPE that this account can see: its worklogs are left out.',
      })
      expect(steps.slice(1).filter((step) => step.kind === 'page' && step.warning)).toEqual([])
      expect((await rows('REAL')).map((r) => r.worklogId)).toEqual(['4501'])
    })
  })

  describe('errors', () => {
    it('reports a worklog whose issue Jira does not know as failed and keeps its stored row', async () => {
      const known = issue('UNRES-1', '38001')
      given(
        [known],
        [ada],
        [
          worklogOn(known, { tempoWorklogId: 801, startDate: '2025-08-02' }),
          worklogOn(known, { tempoWorklogId: 802, startDate: '2025-08-03' }),
        ],
      )
      jira.setProjects([known.fields.project]) // the project outlives its only issue
      const { backfill } = kinds()
      await runChunk(backfill, window('2025-08-01', '2025-08-30', ['UNRES']))
      jira.deleteIssue('UNRES-1')
      await getDatabase().db.delete(jiraIssueKeys).where(eq(jiraIssueKeys.issueId, '38001'))
      const { backfill: again, log } = kinds()
      const steps = await runChunk(again, window('2025-08-01', '2025-08-30', ['UNRES']))
      expect(steps.map((s) => s.kind === 'page' && [s.fetched, s.written, s.failed])).toEqual([
        [2, 0, 2],
      ])
      expect(lastCursor<WindowCursor>(steps)).toMatchObject({ unresolved: 2, deleted: 0 })
      expect((await rows('UNRES')).map((r) => r.worklogId)).toEqual(['801', '802'])
      // The miss is not cached: the next run asks Jira again.
      const cached = await getDatabase()
        .db.select()
        .from(jiraIssueKeys)
        .where(eq(jiraIssueKeys.issueId, '38001'))
      expect(cached).toEqual([])
      const asked = () =>
        jiraLookups().filter((r) => JSON.stringify(r.body).includes('38001')).length
      const before = asked()
      await runChunk(again, window('2025-08-01', '2025-08-30', ['UNRES']))
      expect(asked()).toBe(before + 1)
      expect(
        log.lines.some(
          (l) =>
            l.msg === 'tempo worklogs kept but not written: issue unknown to Jira, or malformed',
        ),
      ).toBe(true)
    })

    it('asks for a retry when Tempo rate-limits, writing nothing', async () => {
      const one = issue('RATE-1', '39001')
      given([one], [], [worklogOn(one, { tempoWorklogId: 901, startDate: '2025-09-02' })])
      tempo.fail({ kind: 'respond', status: 429, headers: { 'retry-after': '4' }, body: {} })
      const steps = await runChunk(kinds().backfill, window('2025-09-01', '2025-09-30', ['RATE']))
      expect(steps).toEqual([{ kind: 'retry', reason: 'tempo-rate-limited', retryAfterMs: 4000 }])
      expect(await rows('RATE')).toEqual([])
    })

    it('asks for a retry when Jira is unavailable, and caches nothing', async () => {
      const one = issue('JDOWN-1', '39101')
      given([one], [], [worklogOn(one, { tempoWorklogId: 911, startDate: '2025-09-03' })])
      jira.unavailable({ path: '/rest/api/3/search/jql', retryAfterSeconds: 2 })
      const steps = await runChunk(kinds().backfill, window('2025-09-01', '2025-09-30', ['JDOWN']))
      expect(steps).toEqual([{ kind: 'retry', reason: 'jira-unavailable', retryAfterMs: 2000 }])
      const cached = await getDatabase()
        .db.select()
        .from(jiraIssueKeys)
        .where(eq(jiraIssueKeys.issueId, '39101'))
      expect(cached).toEqual([])
      expect(await rows('JDOWN')).toEqual([])
    })

    it('asks for a retry when Pinecone rate-limits, and the repeated page completes the stores', async () => {
      const one = issue('PDOWN-1', '39201')
      given([one], [ada], [worklogOn(one, { tempoWorklogId: 921, startDate: '2025-09-04' })])
      pinecone.fail({
        kind: 'respond',
        times: 1,
        status: 429,
        path: '/vectors/upsert',
        body: { code: 8, message: 'slow down' },
      })
      const { backfill } = kinds()
      const scope = window('2025-09-01', '2025-09-30', ['PDOWN'])
      const first = await runChunk(backfill, scope)
      expect(first).toMatchObject([{ kind: 'retry', reason: 'pinecone-rate-limited' }])
      expect(vectorIds()).toEqual([])
      await runChunk(backfill, scope)
      expect(vectorIds()).toEqual(['tempo-921'])
      expect((await rows('PDOWN')).map((r) => r.worklogId)).toEqual(['921'])
    })

    it('fails the chunk for good when Tempo refuses the token', async () => {
      const { backfill } = kinds({
        tempo: tempoClientOn(tempo, { apiToken: 'wrong' }),
      })
      const run = runChunk(backfill, window('2025-10-01', '2025-10-30', ['AUTH']))
      await expect(run).rejects.toThrow(AppError)
      await expect(
        runChunk(backfill, window('2025-10-01', '2025-10-30', ['AUTH'])),
      ).rejects.toMatchObject({
        code: 'UPSTREAM_FAILED',
        retryable: false,
      })
    })

    it('fails with a message naming the missing settings when Tempo is not configured', async () => {
      const { backfill } = kinds({ tempo: undefined, pinecone: undefined })
      await expect(runChunk(backfill, window('2025-10-01', '2025-10-30', null))).rejects.toThrow(
        'Tempo imports need settings that are missing: TEMPO_*, PINECONE_*.',
      )
      await expect(
        runChunk(backfill, window('2025-10-01', '2025-10-30', null)),
      ).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false })
    })

    it('asks for a retry, writing nothing, when Jira does not list the projects', async () => {
      const one = issue('LIST-1', '39101')
      given([one], [ada], [worklogOn(one, { tempoWorklogId: 911, startDate: '2025-09-02' })])
      jira.unavailable({ path: '/rest/api/3/project/search', retryAfterSeconds: 3 })
      const steps = await runChunk(kinds().backfill, window('2025-09-01', '2025-09-30', ['LIST']))
      expect(steps).toEqual([{ kind: 'retry', reason: 'jira-unavailable', retryAfterMs: 3000 }])
      expect(tempo.requests).toEqual([])
      expect(await rows('LIST')).toEqual([])
    })

    it('refuses a next link that leaves the Tempo host', async () => {
      const cursor: WindowCursor = {
        phase: 'scan',
        next: `${jira.url}/4/worklogs?offset=2`,
        scanStartedAt: new Date().toISOString(),
        skipped: 0,
        unresolved: 0,
        deleted: 0,
        checkedAfter: null,
      }
      await expect(
        runChunk(kinds().backfill, window('2025-10-01', '2025-10-30', ['HOST']), cursor),
      ).rejects.toMatchObject({ code: 'UPSTREAM_FAILED' })
      expect(jira.requests.filter((r) => r.path !== '/rest/api/3/project/search')).toEqual([])
    })
  })
})
