import type { Database } from '#core/db/client.ts'
import { databaseNow } from '#core/db/database-now.ts'
import { advanceWatermark, readWatermarks } from '#core/db/sync-state.ts'
import type { StepResult } from '#core/jobs/types.ts'
import type { Logger } from '#core/log.ts'
import { failureToStep, type RetryStep, type UpstreamResult } from '#core/upstreams/failure.ts'
import type { TempoClient, TempoWorklog, WorklogPage } from '#core/upstreams/tempo/client.ts'
import type { WorklogWriter } from './page-writer.ts'
import { findUnseenWorklogs } from './worklogs-table.ts'

/**
 * The chunk runners of the Tempo kinds (see kinds.ts). A window chunk scans `from`..`to` page by
 * page, then checks the stored rows of the window that nothing wrote since the scan began: it asks
 * Tempo for them by issue id (which also finds a worklog that offset paging skipped while Tempo
 * changed between pages), writes back what Tempo still has and removes the rest from both stores.
 * An incremental chunk reads what changed since the watermark less an overlap, then moves it.
 */

/** Which projects a chunk keeps: keys (null: all) and, when Jira listed them, Tempo's filter ids. */
export type ProjectScope = { projects: string[] | null; projectIds?: string[] }

/** A date window, inclusive (`YYYY-MM-DD`). */
export type WindowScope = ProjectScope & { mode: 'window'; from: string; to: string }

/** Worklogs changed since the `tempo` watermark. */
export type UpdatedScope = ProjectScope & { mode: 'updated' }

/** Where a window chunk stands: scanning pages, or checking the rows the scan did not see. */
export type WindowCursor = {
  phase: 'scan' | 'check'
  /** Tempo's URL of the next page; null before the first */
  next: string | null
  /** database time the scan began (ISO): rows written before it and not since are unseen */
  scanStartedAt: string
  /** worklogs of projects the job leaves out */
  skipped: number
  /** worklogs whose issue Jira does not return, or that Tempo sent malformed */
  unresolved: number
  /** worklogs removed because Tempo no longer has them */
  deleted: number
  /** the check has dealt with unseen rows up to this `worklog_id` */
  checkedAfter: string | null
}

/** Where an incremental chunk stands; `finish` moves the watermark. */
export type UpdatedCursor = {
  phase: 'scan' | 'finish'
  next: string | null
  /** database time the scan began (ISO): the next watermark */
  startedAt: string
  /** the `updatedFrom` sent (ISO) */
  updatedFrom: string
  skipped: number
  unresolved: number
}

/** The source name of the Tempo watermark in `sync_state`. */
export const TEMPO_SOURCE = 'tempo'

/** Knobs of the runners (defaults in kinds.ts). */
export type ScanOptions = {
  /** worklogs per Tempo page */
  pageSize: number
  /** unseen rows checked per step */
  checkBatch: number
  /** issue ids per Tempo request of the check */
  checkIssueIds: number
  /** the incremental sync re-reads this much before its watermark, in ms */
  syncOverlapMs: number
  /** without a watermark, the first sync reads this far back, in ms */
  firstSyncLookbackMs: number
}

/** What the runners use. */
export type ScanDeps = {
  db: Database
  log: Logger
  tempo: TempoClient
  writer: WorklogWriter
  options: ScanOptions
}

/** Runs a window chunk: the scan, then the check of what the scan did not see. */
export async function* scanWindow(
  deps: ScanDeps,
  scope: WindowScope,
  start: WindowCursor | null,
  signal: AbortSignal,
): AsyncGenerator<StepResult<WindowCursor>, void, void> {
  let cursor: WindowCursor = start ?? {
    phase: 'scan',
    next: null,
    scanStartedAt: (await databaseNow(deps.db)).toISOString(),
    skipped: 0,
    unresolved: 0,
    deleted: 0,
    checkedAfter: null,
  }
  if (cursor.phase === 'scan') {
    const query = {
      from: scope.from,
      to: scope.to,
      limit: deps.options.pageSize,
      ...(scope.projectIds && { projectIds: scope.projectIds }),
    }
    const scanned = yield* scanPages(deps, {
      cursor,
      firstPage: () => deps.tempo.listWorklogs(query, signal),
      projects: scope.projects,
      after: 'check',
      signal,
    })
    if (!scanned) {
      return
    }
    cursor = scanned
  }
  yield* checkUnseen(deps, scope, cursor, signal)
}

/** Where the page loop stands in a cursor of either runner. */
type PageCursor = { phase: string; next: string | null; skipped: number; unresolved: number }

/**
 * Reads and writes pages from `cursor.next` (or `firstPage` when there is none) while the phase is
 * `scan`, a step per page; the last page moves the phase to `after`. Returns the cursor after the
 * last page, or nothing when it yielded a retry and the chunk must stop.
 */
async function* scanPages<C extends PageCursor>(
  deps: ScanDeps,
  scan: {
    cursor: C
    firstPage: () => Promise<UpstreamResult<WorklogPage>>
    projects: string[] | null
    after: C['phase']
    signal: AbortSignal
  },
): AsyncGenerator<StepResult<C>, C | undefined, void> {
  const { signal } = scan
  const projects = scan.projects && new Set(scan.projects)
  let cursor = scan.cursor
  while (cursor.phase === 'scan') {
    const page = cursor.next
      ? await deps.tempo.nextPage(cursor.next, signal)
      : await scan.firstPage()
    if (!page.ok) {
      yield failureToStep(page, 'tempo', signal)
      return undefined
    }
    const outcome = await deps.writer.write(page.value.worklogs, projects, signal)
    if (outcome.kind === 'retry') {
      yield outcome
      return undefined
    }
    const failed = outcome.unresolved.length + page.value.invalid
    cursor = {
      ...cursor,
      phase: page.value.next ? 'scan' : scan.after,
      next: page.value.next,
      skipped: cursor.skipped + outcome.skipped.length,
      unresolved: cursor.unresolved + failed,
    }
    const fetched = page.value.worklogs.length + page.value.invalid
    yield { kind: 'page', cursor, fetched, written: outcome.written.length, failed }
  }
  return cursor
}

// The check, a step per batch of stored rows of the window that the scan did not see.
async function* checkUnseen(
  deps: ScanDeps,
  scope: WindowScope,
  start: WindowCursor,
  signal: AbortSignal,
): AsyncGenerator<StepResult<WindowCursor>, void, void> {
  let cursor = start
  for (;;) {
    const unseen = await findUnseenWorklogs(deps.db, {
      from: scope.from,
      to: scope.to,
      projectKeys: scope.projects,
      seenBefore: new Date(cursor.scanStartedAt),
      after: cursor.checkedAfter,
      limit: deps.options.checkBatch,
    })
    if (unseen.length === 0) {
      return
    }
    const step = await checkRows(deps, scope, { cursor, unseen, signal })
    yield step
    if (step.kind === 'retry') {
      return
    }
    cursor = step.cursor
  }
}

// One batch of the check: re-written if Tempo still has them (and they still belong to the job),
// removed from both stores otherwise.
async function checkRows(
  deps: ScanDeps,
  scope: WindowScope,
  batch: {
    cursor: WindowCursor
    unseen: ReadonlyArray<{ worklogId: string; issueId: string }>
    signal: AbortSignal
  },
): Promise<StepResult<WindowCursor>> {
  const { cursor, unseen, signal } = batch
  const issueIds = [...new Set(unseen.map((row) => row.issueId))]
  const still = await worklogsOfIssues(deps, scope, issueIds, signal)
  if (!Array.isArray(still)) {
    return still
  }
  const wanted = new Set(unseen.map((row) => row.worklogId))
  const found = still.filter((worklog) => wanted.has(worklog.id))
  const projects = scope.projects && new Set(scope.projects)
  const outcome = await deps.writer.write(found, projects, signal)
  if (outcome.kind === 'retry') {
    return outcome
  }
  const keep = new Set([...outcome.written, ...outcome.unresolved])
  const gone = unseen.map((row) => row.worklogId).filter((id) => !keep.has(id))
  const removed = await deps.writer.remove(gone, signal)
  if (removed.kind === 'retry') {
    return removed
  }
  if (removed.count > 0) {
    deps.log.info(
      { from: scope.from, to: scope.to, removed: removed.count },
      'tempo worklogs removed',
    )
  }
  return {
    kind: 'page',
    cursor: {
      ...cursor,
      unresolved: cursor.unresolved + outcome.unresolved.length,
      deleted: cursor.deleted + removed.count,
      checkedAfter: unseen.at(-1)?.worklogId ?? cursor.checkedAfter,
    },
    fetched: found.length,
    written: outcome.written.length,
    failed: outcome.unresolved.length,
  }
}

// Every worklog of these issues in the window, all pages.
async function worklogsOfIssues(
  deps: ScanDeps,
  scope: WindowScope,
  issueIds: string[],
  signal: AbortSignal,
): Promise<TempoWorklog[] | RetryStep> {
  const { tempo, options } = deps
  const found: TempoWorklog[] = []
  for (let start = 0; start < issueIds.length; start += options.checkIssueIds) {
    const batch = issueIds.slice(start, start + options.checkIssueIds)
    let page = await tempo.listWorklogs(
      { from: scope.from, to: scope.to, issueIds: batch, limit: options.pageSize },
      signal,
    )
    for (;;) {
      if (!page.ok) {
        return failureToStep(page, 'tempo', signal)
      }
      found.push(...page.value.worklogs)
      if (!page.value.next) {
        break
      }
      page = await tempo.nextPage(page.value.next, signal)
    }
  }
  return found
}

/** Runs an incremental chunk: worklogs updated since the watermark, then the watermark moves. */
export async function* scanUpdated(
  deps: ScanDeps,
  scope: UpdatedScope,
  start: UpdatedCursor | null,
  signal: AbortSignal,
): AsyncGenerator<StepResult<UpdatedCursor>, void, void> {
  const begun = start ?? (await firstUpdatedCursor(deps))
  // No projectId here: Tempo's updatedFrom with other filters is unverified (v3 refused it).
  const query = { updatedFrom: new Date(begun.updatedFrom), limit: deps.options.pageSize }
  const cursor = yield* scanPages(deps, {
    cursor: begun,
    firstPage: () => deps.tempo.listWorklogs(query, signal),
    projects: scope.projects,
    after: 'finish',
    signal,
  })
  if (!cursor) {
    return
  }
  await advanceWatermark(deps.db, {
    source: TEMPO_SOURCE,
    scope: '',
    toMs: Date.parse(cursor.startedAt),
    onlyIfCoveredFrom: Date.parse(cursor.updatedFrom),
  })
}

async function firstUpdatedCursor(deps: ScanDeps): Promise<UpdatedCursor> {
  const { options } = deps
  const startedAt = await databaseNow(deps.db)
  const watermark = (await readWatermarks(deps.db, TEMPO_SOURCE, [''])).get('')
  const updatedFrom =
    watermark === undefined
      ? startedAt.getTime() - options.firstSyncLookbackMs
      : watermark - options.syncOverlapMs
  return {
    phase: 'scan',
    next: null,
    startedAt: startedAt.toISOString(),
    updatedFrom: new Date(updatedFrom).toISOString(),
    skipped: 0,
    unresolved: 0,
  }
}
