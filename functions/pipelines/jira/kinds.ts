import { sql } from 'drizzle-orm'
import { DAY_MS } from '#core/dates.ts'
import type { Database } from '#core/db/client.ts'
import { databaseNow } from '#core/db/database-now.ts'
import { advanceWatermark, readWatermarks } from '#core/db/sync-state.ts'
import { AppError } from '#core/errors.ts'
import { type DailySync, defineJobKind, PLAN_TIMEOUT_MS } from '#core/jobs/registry.ts'
import { type ChunkPart, sideBySide } from '#core/jobs/side-by-side.ts'
import type { ChunkInput, JobKind, StepResult } from '#core/jobs/types.ts'
import type { Services } from '#core/services.ts'
import { failureToStep } from '#core/upstreams/failure.ts'
import {
  isStalePageToken,
  type JiraClient,
  type JiraIssue,
  type JiraProjectRef,
  MAX_SEARCH_PAGE,
} from '#core/upstreams/jira/client.ts'
import { updatedWindowJql } from '#core/upstreams/jira/jql.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import { deletionsConfirmed } from '#pipelines/backfill/deletion-brake.ts'
import { JIRA_FIELDS, parseIssueTime } from './document.ts'
import type { JiraBackfillParams } from './inputs.ts'
import { type IssueWriterDeps, writeIssues } from './issue-writer.ts'
import { type CoveredProject, projectsToCover, resolveProject } from './projects.ts'
import { KEY_PAGE_SIZE, type ReconcileCursor, reconcile, startReconcile } from './reconcile.ts'

/**
 * The Jira → Pinecone job kinds (docs/ARCHITECTURE.md, "Pipelines"):
 * - `backfill-jira`: the issues updated in the last `days` days, one chunk per project;
 * - `sync-jira`: the daily incremental run, from each project's watermark less an overlap.
 * A chunk's scope is `{ project, projectId?, fromMs, toMs }` with `toMs` frozen when the job is
 * planned, so a chunk always ends. Each attempt resolves the project through Jira (by id, else by
 * the key it was named by, which may be a former key): its key now names the vectors, and its
 * former keys are reconciled too. Pages of `search/jql` are ordered by `updated`, then `key`; an
 * issue updated while we page moves behind us and is read again (writes are ordered by version).
 * Beside the pages, the reconcile (reconcile.ts) moves re-keyed vectors and deletes those Jira no
 * longer has, behind the deletion brake.
 */

/** `sync-jira` parameters: the projects to sync (default: as for a backfill). */
export type JiraSyncParams = { projects?: string[] }
/** One project's window, epoch ms, both bounds inclusive; `projectId` when planning knew it. */
export type JiraScope = { project: string; projectId?: string; fromMs: number; toMs: number }
/**
 * Where a chunk continues: the lower bound of the JQL its token belongs to, Jira's token, and the
 * `updated` of the newest issue written so far (the restart point when a token is refused);
 * `phase: 'reconcile'` once every page is written; beside them, the reconcile's own cursor.
 */
export type JiraCursor = {
  fromMs: number
  nextPageToken?: string
  lastUpdatedMs?: number
  phase?: 'reconcile'
  reconcile?: ReconcileCursor
}

export type JiraJobDeps = Pick<
  Services,
  'db' | 'clock' | 'config' | 'jira' | 'pinecone' | 'log'
> & {
  /** How long planning may wait for Jira, in ms (default `PLAN_TIMEOUT_MS`). */
  planTimeoutMs?: number
  /** Keys per page of the reconcile's key scan (default `KEY_PAGE_SIZE`, Jira's most). */
  keyPageSize?: number
}

/** The watermark source for Jira in `sync_state` (scope: the project's id). */
export const JIRA_SOURCE = 'jira'
/** A sync starts this far before the watermark: Jira's search is eventually consistent. */
export const SYNC_OVERLAP_MS = 10 * 60_000
/** A project's first sync (no watermark yet) looks back this far. */
export const SYNC_FIRST_LOOKBACK_MS = 2 * DAY_MS
/**
 * Issues per page: the most Jira serves with real fields. A page's embeddings go in even batches
 * side by side (the sink's), so writing a page takes one embed and one upsert latency.
 */
export const PAGE_SIZE = MAX_SEARCH_PAGE

// Missing settings are no outage that passes: UNAVAILABLE (503) at a start, and a chunk that
// fails for good in the worker, both naming the variables.
function requireUpstreams(deps: JiraJobDeps): Upstreams {
  if (!deps.jira) {
    throw new AppError(
      'UNAVAILABLE',
      'Jira is not configured (JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN).',
      { retryable: false, publicMessage: true },
    )
  }
  if (!deps.pinecone) {
    throw new AppError(
      'UNAVAILABLE',
      'Pinecone is not configured (PINECONE_API_KEY, PINECONE_INDEX_HOST).',
      { retryable: false, publicMessage: true },
    )
  }
  return { jira: deps.jira, pinecone: deps.pinecone }
}

// What both kinds plan from: the settings checked, `now` frozen (epoch ms) and the projects, with
// `planTimeoutMs` for Jira (planning runs inside the web start).
async function planProjects(deps: JiraJobDeps, named: readonly string[] | undefined) {
  const { jira } = requireUpstreams(deps)
  const toMs = deps.clock.now().getTime()
  const deadline = AbortSignal.timeout(deps.planTimeoutMs ?? PLAN_TIMEOUT_MS)
  return { toMs, projects: await projectsToCover({ ...deps, jira }, named, deadline) }
}

/** The newest `updated` on a page, in epoch ms (issues without one are skipped). */
function newestUpdated(issues: readonly JiraIssue[]): number | undefined {
  let newest: number | undefined
  for (const issue of issues) {
    const ms = parseIssueTime(issue.fields?.updated)?.ms
    if (ms !== undefined && (newest === undefined || ms > newest)) {
      newest = ms
    }
  }
  return newest
}

type Upstreams = { jira: JiraClient; pinecone: PineconeSink }

// The cursor a chunk starts its pages from. Without a token, a resumed chunk restarts at the
// newest `updated` it wrote (inclusive).
function startCursor(scope: JiraScope, resumed: JiraCursor | null): JiraCursor {
  if (resumed?.nextPageToken) {
    return resumed
  }
  return {
    fromMs: resumed?.lastUpdatedMs ?? resumed?.fromMs ?? scope.fromMs,
    ...(resumed?.lastUpdatedMs !== undefined && { lastUpdatedMs: resumed.lastUpdatedMs }),
  }
}

function writerDeps(deps: JiraJobDeps, upstreams: Upstreams) {
  return {
    ...deps,
    ...upstreams,
    jiraBaseUrl: deps.config.jira?.baseUrl ?? '',
    keyPageSize: deps.keyPageSize ?? KEY_PAGE_SIZE,
  }
}

/**
 * Pages of a chunk being written while the next is read: two. With one, the next page was asked
 * for only once the page before had been written and checkpointed, so a write a little slower than
 * a read (embed, upsert and checkpoint against Jira's page) held every read back by the difference.
 * With two, the reads follow one another at Jira's pace while writes take up to two reads' time.
 * Each stop of a chunk (a worker's time running out) discards the pages in flight, to be read and
 * written again by the next attempt, so more would repeat more work in short invocations.
 */
export const WRITES_IN_FLIGHT = 2

type PageWrite = {
  cursor: JiraCursor
  fetched: number
  result: Promise<Awaited<ReturnType<typeof writeIssues>>>
}

/**
 * Writes one project's window page by page; returns the last page's cursor (phase `reconcile`), or
 * nothing after yielding a retry (docs/ARCHITECTURE.md, "Pipelines"). Pages follow one another by
 * token, so the next page is requested as soon as a page arrives, and Jira answers it while up to
 * `WRITES_IN_FLIGHT` pages are embedded and upserted. A page is checkpointed once it and every
 * page before it are written, so a cursor never passes an unwritten page.
 */
async function* writePages(
  deps: IssueWriterDeps & Upstreams,
  project: JiraProjectRef,
  input: ChunkInput<JiraScope, JiraCursor>,
): AsyncGenerator<StepResult<JiraCursor>, JiraCursor | undefined, void> {
  const { scope, lease } = input
  // Ends a page read ahead that is no longer wanted (a retry, or the engine closing the runner).
  const readAhead = new AbortController()
  const signal = AbortSignal.any([input.signal, readAhead.signal])
  const fetchPage = (at: JiraCursor) =>
    deps.jira.searchPage({
      // By id: a project renamed while we page is still the same project.
      jql: updatedWindowJql({ project: project.id, fromMs: at.fromMs, toMs: scope.toMs }),
      fields: JIRA_FIELDS,
      maxResults: PAGE_SIZE,
      signal,
      ...(at.nextPageToken !== undefined && { nextPageToken: at.nextPageToken }),
    })
  const writes: PageWrite[] = []
  // The cursor of the page requested last, and that request (none once the last page arrived).
  let cursor = startCursor(scope, input.cursor)
  let pending: ReturnType<typeof fetchPage> | undefined = fetchPage(cursor)
  try {
    for (;;) {
      if (pending && writes.length < WRITES_IN_FLIGHT) {
        const page = await pending
        pending = undefined
        if (!page.ok) {
          if (cursor.nextPageToken !== undefined && isStalePageToken(page)) {
            // Tokens expire (7 days) and a resumed job may hold an old one: start again from the
            // newest issue read; what repeats is written again by id.
            deps.log.info({ project: project.key }, 'jira page token refused; restarting window')
            const { lastUpdatedMs } = cursor
            cursor = {
              fromMs: lastUpdatedMs ?? cursor.fromMs,
              ...(lastUpdatedMs !== undefined && { lastUpdatedMs }),
            }
            pending = fetchPage(cursor)
            continue
          }
          // The pages read before are written and checkpointed first.
          for (const write of writes.splice(0)) {
            const step = await pageStep(write)
            yield step
            if (step.kind !== 'page') {
              return undefined
            }
          }
          yield failureToStep(page, 'jira', input.signal)
          return undefined
        }
        const { issues, isLast, nextPageToken } = page.value
        const lastUpdatedMs = newestUpdated(issues) ?? cursor.lastUpdatedMs
        cursor = {
          fromMs: cursor.fromMs,
          ...(nextPageToken !== undefined && { nextPageToken }),
          ...(lastUpdatedMs !== undefined && { lastUpdatedMs }),
          ...(isLast && { phase: 'reconcile' as const }),
        }
        if (!isLast) {
          pending = fetchPage(cursor)
        }
        const result = writeIssues(deps, { project, lease, signal: input.signal }, issues)
        // Awaited in order below; until then a rejection must not count as unhandled.
        result.catch(() => {})
        writes.push({ cursor, fetched: issues.length, result })
        continue
      }
      const oldest = writes.shift()
      if (!oldest) {
        return cursor // every page written, the last one included
      }
      const step = await pageStep(oldest)
      yield step
      if (step.kind !== 'page') {
        return undefined
      }
    }
  } finally {
    readAhead.abort()
    // Writes still running end before the runner does (the engine aborts them when it stops).
    await Promise.allSettled(writes.map((write) => write.result))
  }
}

/** A written page as its step: the page's cursor and counts, or the retry its write asked for. */
async function pageStep(write: PageWrite): Promise<StepResult<JiraCursor>> {
  const written = await write.result
  if ('kind' in written) {
    return written
  }
  return { kind: 'page', cursor: write.cursor, fetched: write.fetched, written: written.written }
}

/**
 * Runs one project's window page by page and, side by side with the pages, the reconcile (both
 * ordered and fenced on their own, so neither waits for the other). After the last page it moves
 * the project's watermark (kept under its id) to the window's end (for a backfill only when that
 * leaves no gap); a crash before that repeats at most the newest issues, never skips any.
 */
function createRunner(deps: JiraJobDeps, watermark: 'always' | 'when-covered') {
  return async function* run(
    input: ChunkInput<JiraScope, JiraCursor>,
  ): AsyncGenerator<StepResult<JiraCursor>, void, void> {
    const upstreams = requireUpstreams(deps)
    const { scope, signal } = input
    const resolved = await resolveProject(upstreams.jira, scope, signal)
    if (!resolved.ok) {
      yield failureToStep(resolved, 'jira', signal)
      return
    }
    const project = resolved.value
    const writer = writerDeps(deps, upstreams)
    const { reconcile: reconciled, ...paged } = input.cursor ?? { fromMs: scope.fromMs }
    const pages: ChunkPart<JiraCursor> = {
      at: paged,
      async *run(partSignal) {
        if (paged.phase !== 'reconcile') {
          const last = yield* writePages(writer, project, { ...input, signal: partSignal })
          if (!last) {
            return
          }
        }
        // Repeated when a resumed chunk finds the pages done: the watermark only moves forward.
        await adoptKeyWatermark(deps.db, project)
        await advanceWatermark(deps.db, {
          source: JIRA_SOURCE,
          scope: project.id,
          toMs: scope.toMs,
          ...(watermark === 'when-covered' && { onlyIfCoveredFrom: scope.fromMs }),
        })
      },
    }
    const start = reconciled ?? startReconcile(await databaseNow(deps.db))
    const reconciling: ChunkPart<ReconcileCursor> = {
      at: start,
      run: (partSignal) =>
        reconcile(
          writer,
          {
            project,
            lease: input.lease,
            signal: partSignal,
            confirmed: deletionsConfirmed(input.params),
          },
          start,
        ),
    }
    yield* sideBySide(signal, pages, reconciling, (at, reconcile) => ({ ...at, reconcile }))
  }
}

/**
 * Watermarks were kept under project keys before ids: the first time a project's watermark is
 * written under its id, it starts from the newest one kept under any of its keys, so no gap opens.
 */
async function adoptKeyWatermark(db: Database, project: JiraProjectRef): Promise<void> {
  await db.execute(sql`
    insert into sync_state (source, scope, watermark)
    select ${JIRA_SOURCE}, ${project.id}, max(watermark) from sync_state
    where source = ${JIRA_SOURCE}
      and scope in (select jsonb_array_elements_text(${JSON.stringify(project.keys)}::jsonb))
    having max(watermark) is not null
    on conflict do nothing`)
}

/** A project's watermark: under its id, else (written before ids) the newest under one of its keys. */
function watermarkOf(
  watermarks: ReadonlyMap<string, number>,
  covered: CoveredProject,
): number | undefined {
  const byId = covered.projectId && watermarks.get(covered.projectId)
  return byId || watermarks.get(covered.project)
}

/** The daily Jira sync for `jobs/sync`: one `sync-jira` job per UTC day, every project. */
export const JIRA_DAILY_SYNC: DailySync = {
  kind: 'sync-jira',
  dedupeKey: 'sync-jira',
  params: () => ({}),
}

/**
 * `backfill-jira`: one chunk per project over `[now − days, now]`, `now` frozen at planning.
 * @throws {AppError} from `plan`: UNAVAILABLE when Jira or Pinecone is not configured, or Jira does
 * not list its projects within `planTimeoutMs`; see `projectsToCover`
 */
export function createJiraBackfillKind(deps: JiraJobDeps): JobKind {
  return defineJobKind<JiraBackfillParams, JiraScope, JiraCursor>({
    kind: 'backfill-jira',
    async plan(params) {
      const { toMs, projects } = await planProjects(deps, params.projects)
      const fromMs = Math.max(0, toMs - params.days * DAY_MS)
      return projects.map((project) => ({ ...project, fromMs, toMs }))
    },
    run: createRunner(deps, 'when-covered'),
  })
}

/**
 * `sync-jira`: one chunk per project from its watermark less `SYNC_OVERLAP_MS` (or
 * `SYNC_FIRST_LOOKBACK_MS` back, the first time) to now, frozen at planning.
 */
export function createJiraSyncKind(deps: JiraJobDeps): JobKind {
  return defineJobKind<JiraSyncParams, JiraScope, JiraCursor>({
    kind: 'sync-jira',
    priority: 0,
    async plan(params) {
      const { toMs, projects } = await planProjects(deps, params.projects)
      const scopes = projects.flatMap((p) => (p.projectId ? [p.projectId, p.project] : [p.project]))
      const watermarks = await readWatermarks(deps.db, JIRA_SOURCE, scopes)
      return projects.map((project) => {
        const watermark = watermarkOf(watermarks, project)
        const from =
          watermark === undefined ? toMs - SYNC_FIRST_LOOKBACK_MS : watermark - SYNC_OVERLAP_MS
        return { ...project, fromMs: Math.max(0, Math.min(from, toMs)), toMs }
      })
    },
    run: createRunner(deps, 'always'),
  })
}
