import type { Database } from '#core/db/client.ts'
import { databaseNow } from '#core/db/database-now.ts'
import { advanceWatermark, readWatermarks } from '#core/db/sync-state.ts'
import type { StepResult } from '#core/jobs/types.ts'
import type { Logger } from '#core/log.ts'
import { failureToStep, type RetryStep, type UpstreamResult } from '#core/upstreams/failure.ts'
import type { TempoClient, TempoWorklog, WorklogPage } from '#core/upstreams/tempo/client.ts'
import { deletionHeld, heldWarning } from '#pipelines/backfill/deletion-brake.ts'
import type { Held, ProjectFilter, WorklogWriter } from './page-writer.ts'
import {
  deletionShares,
  findUnseenWorklogs,
  projectKeysOfWorklogs,
  type UnseenQuery,
} from './worklogs-table.ts'

/**
 * The chunk runners of the Tempo kinds (see kinds.ts). A window chunk scans `from`..`to` page by
 * page, then checks the stored rows of the window that nothing wrote since the scan began: it asks
 * Tempo for them by issue id (which also finds a worklog that offset paging skipped while Tempo
 * changed between pages) and writes back what Tempo still has. What Tempo no longer has is counted
 * first and removed from both stores after, a step per 1000, unless the deletion brake holds a
 * project's share back, or a worklog Tempo sent could not be read at all (then nothing is removed:
 * it may be one of them). The cursor names at most 1000 gone worklogs; past that, the removal finds
 * them again in the table (the rows of the window still unseen since the scan began: the check
 * wrote or touched every other). An incremental chunk reads what changed since the watermark less
 * an overlap, then moves it.
 */

/** Which projects a chunk keeps: keys as named (null: all). */
export type ProjectScope = { projects: string[] | null }

/** A date window, inclusive (`YYYY-MM-DD`). */
export type WindowScope = ProjectScope & { mode: 'window'; from: string; to: string }

/** Worklogs changed since the `tempo` watermark. */
export type UpdatedScope = ProjectScope & { mode: 'updated' }

/** Where a window chunk stands: scanning pages, checking unseen rows, or removing what is gone. */
export type WindowCursor = {
  phase: 'scan' | 'check' | 'remove'
  /** Tempo's URL of the next page; null before the first */
  next: string | null
  /** database time the scan began (ISO): rows written before it and not since are unseen */
  scanStartedAt: string
  /** worklogs of projects the job leaves out */
  skipped: number
  /** worklogs whose issue Jira does not return, or that Tempo sent malformed */
  unresolved: number
  /** malformed worklogs whose id could not be read: while any, nothing is removed */
  unreadable?: number
  /** worklogs removed because Tempo no longer has them */
  deleted: number
  /** the check has dealt with unseen rows up to this `worklog_id` */
  checkedAfter: string | null
  /** worklogs Tempo no longer has, found by the check, still to remove (while at most `GONE_KEPT`) */
  gone?: string[]
  /** how many worklogs the check found gone; past `GONE_KEPT`, `gone` is left out */
  goneCount?: number
  /** keys of the projects whose deletions the brake holds back */
  heldKeys?: string[]
  /** the removal without `gone` has removed unseen rows up to this `worklog_id` */
  removedAfter?: string
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
  unreadable?: number
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

/** The projects a chunk keeps, resolved through Jira for this attempt. */
export type ResolvedProjects = ProjectFilter & {
  /** every key the kept projects had, current and former (stored rows carry the key of their day) */
  keys: string[] | null
  /** every listed project's key now, by id (the names of the brake's warnings) */
  currentKeys: ReadonlyMap<string, string>
  /** every key a listed project had, current or former → its id (the brake counts by project) */
  projectOfKey: ReadonlyMap<string, string>
  /** for the job's progress: named projects Jira does not know, whose worklogs are left out */
  warning?: string
}

/** What the runners use. */
export type ScanDeps = {
  db: Database
  log: Logger
  tempo: TempoClient
  writer: WorklogWriter
  options: ScanOptions
}

/** What one attempt runs with: its hold (lease, signal, start) and the job's projects. */
export type Attempt = Held & {
  projects: ResolvedProjects
  /** a start with `confirmDeletions: true` */
  confirmed: boolean
}

// Worklogs removed per step.
const REMOVE_BATCH = 1000
/** Gone worklogs named in the cursor; past this many, the removal finds them in the table again. */
export const GONE_KEPT = 1000

/** Runs a window chunk: the scan, the check of what the scan did not see, then the removals. */
export async function* scanWindow(
  deps: ScanDeps,
  scope: WindowScope,
  start: WindowCursor | null,
  attempt: Attempt,
): AsyncGenerator<StepResult<WindowCursor>, void, void> {
  const { signal, projects } = attempt
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
    const ids = projects.ids && [...projects.ids]
    const query = {
      from: scope.from,
      to: scope.to,
      limit: deps.options.pageSize,
      ...(ids && { projectIds: ids }),
    }
    const scanned = yield* scanPages(deps, {
      cursor,
      firstPage: () => deps.tempo.listWorklogs(query, signal),
      after: 'check',
      attempt,
    })
    if (!scanned) {
      return
    }
    cursor = scanned
  }
  if (cursor.phase === 'check') {
    const checked = yield* checkUnseen(deps, scope, cursor, attempt)
    if (!checked) {
      return
    }
    cursor = checked
  }
  yield* removeGone(deps, scope, cursor, attempt)
}

/** Where the page loop stands in a cursor of either runner. */
type PageCursor = {
  phase: string
  next: string | null
  skipped: number
  unresolved: number
  unreadable?: number
}

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
    after: C['phase']
    attempt: Attempt
  },
): AsyncGenerator<StepResult<C>, C | undefined, void> {
  const { signal, projects } = scan.attempt
  let cursor = scan.cursor
  while (cursor.phase === 'scan') {
    const page = cursor.next
      ? await deps.tempo.nextPage(cursor.next, signal)
      : await scan.firstPage()
    if (!page.ok) {
      yield failureToStep(page, 'tempo', signal)
      return undefined
    }
    const { worklogs, invalidIds } = page.value
    const outcome = await deps.writer.write(worklogs, projects, scan.attempt, invalidIds)
    if (outcome.kind === 'retry') {
      yield outcome
      return undefined
    }
    const unreadable = page.value.invalid - invalidIds.length
    const failed = outcome.unresolved.length + unreadable
    cursor = {
      ...cursor,
      phase: page.value.next ? 'scan' : scan.after,
      next: page.value.next,
      skipped: cursor.skipped + outcome.skipped.length,
      unresolved: cursor.unresolved + failed,
      ...(unreadable > 0 && { unreadable: (cursor.unreadable ?? 0) + unreadable }),
    }
    const fetched = worklogs.length + page.value.invalid
    yield { kind: 'page', cursor, fetched, written: outcome.written.length, failed }
  }
  return cursor
}

// The check, a step per batch of stored rows of the window that the scan did not see. Returns the
// cursor once every unseen row is dealt with (phase `remove`), or nothing after a retry.
async function* checkUnseen(
  deps: ScanDeps,
  scope: WindowScope,
  start: WindowCursor,
  attempt: Attempt,
): AsyncGenerator<StepResult<WindowCursor>, WindowCursor | undefined, void> {
  let cursor = start
  for (;;) {
    const unseen = await findUnseenWorklogs(deps.db, {
      from: scope.from,
      to: scope.to,
      projectKeys: attempt.projects.keys,
      seenBefore: new Date(cursor.scanStartedAt),
      after: cursor.checkedAfter,
      limit: deps.options.checkBatch,
    })
    if (unseen.length === 0) {
      return { ...cursor, phase: 'remove' }
    }
    const step = await checkRows(deps, scope, { cursor, unseen, attempt })
    yield step
    if (step.kind === 'retry') {
      return undefined
    }
    cursor = step.cursor
  }
}

// One batch of the check: re-written if Tempo still has them, noted as gone otherwise.
async function checkRows(
  deps: ScanDeps,
  scope: WindowScope,
  batch: {
    cursor: WindowCursor
    unseen: ReadonlyArray<{ worklogId: string; issueId: string }>
    attempt: Attempt
  },
): Promise<StepResult<WindowCursor>> {
  const { cursor, unseen, attempt } = batch
  const issueIds = [...new Set(unseen.map((row) => row.issueId))]
  const still = await worklogsOfIssues(deps, scope, issueIds, attempt.signal)
  if (!('worklogs' in still)) {
    return still
  }
  const wanted = new Set(unseen.map((row) => row.worklogId))
  const found = still.worklogs.filter((worklog) => wanted.has(worklog.id))
  const malformed = still.invalidIds.filter((id) => wanted.has(id))
  const outcome = await deps.writer.write(found, attempt.projects, attempt, malformed)
  if (outcome.kind === 'retry') {
    return outcome
  }
  const keep = new Set([...outcome.written, ...outcome.unresolved, ...outcome.skipped])
  const gone = unseen.map((row) => row.worklogId).filter((id) => !keep.has(id))
  // A mass deletion would make the cursor, rewritten at every checkpoint, grow without bound.
  const goneCount = goneTotal(cursor) + gone.length
  const next: WindowCursor = {
    ...cursor,
    unresolved: cursor.unresolved + outcome.unresolved.length + still.unreadable,
    ...(still.unreadable > 0 && { unreadable: (cursor.unreadable ?? 0) + still.unreadable }),
    goneCount,
    checkedAfter: unseen.at(-1)?.worklogId ?? cursor.checkedAfter,
  }
  delete next.gone
  if (goneCount <= GONE_KEPT) {
    next.gone = [...(cursor.gone ?? []), ...gone]
  }
  return {
    kind: 'page',
    cursor: next,
    fetched: found.length + malformed.length + still.unreadable,
    written: outcome.written.length,
    failed: outcome.unresolved.length + still.unreadable,
  }
}

// Every worklog of these issues in the window, all pages, with the ids of malformed ones.
async function worklogsOfIssues(
  deps: ScanDeps,
  scope: WindowScope,
  issueIds: string[],
  signal: AbortSignal,
): Promise<{ worklogs: TempoWorklog[]; invalidIds: string[]; unreadable: number } | RetryStep> {
  const { tempo, options } = deps
  const found: TempoWorklog[] = []
  const invalidIds: string[] = []
  let unreadable = 0
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
      invalidIds.push(...page.value.invalidIds)
      unreadable += page.value.invalid - page.value.invalidIds.length
      if (!page.value.next) {
        break
      }
      page = await tempo.nextPage(page.value.next, signal)
    }
  }
  return { worklogs: found, invalidIds, unreadable }
}

// Gone worklogs the check found (a cursor written before `goneCount` names them all in `gone`).
function goneTotal(cursor: WindowCursor): number {
  return cursor.goneCount ?? cursor.gone?.length ?? 0
}

// The rows of the window a scan that began at the cursor's start has not seen.
function unseenOf(scope: WindowScope, cursor: WindowCursor, attempt: Attempt): UnseenQuery {
  return {
    from: scope.from,
    to: scope.to,
    projectKeys: attempt.projects.keys,
    seenBefore: new Date(cursor.scanStartedAt),
  }
}

// Removes what the check found gone, a step per batch, after the deletion brake had its say: a
// project whose share is over the limit keeps all of it (a warning names the count), and so does
// every project while a worklog Tempo sent could not be read. The batches come from the cursor when
// it names every gone worklog, else from the table: the rows of the window still unseen (the check
// wrote or touched every other), past the last one removed, leaving out the held projects.
async function* removeGone(
  deps: ScanDeps,
  scope: WindowScope,
  start: WindowCursor,
  attempt: Attempt,
): AsyncGenerator<StepResult<WindowCursor>, void, void> {
  let cursor = start
  if (goneTotal(cursor) === 0) {
    return
  }
  if (cursor.deleted === 0 && !attempt.confirmed) {
    const braked = await brake(deps, scope, cursor, attempt)
    cursor = braked.cursor
    if (braked.warning) {
      deps.log.warn(
        { from: scope.from, to: scope.to, warning: braked.warning },
        'tempo deletions held back',
      )
      yield { kind: 'page', cursor, fetched: 0, written: 0, warning: braked.warning }
    }
  }
  for (;;) {
    const batch = cursor.gone
      ? cursor.gone.slice(0, REMOVE_BATCH)
      : (
          await findUnseenWorklogs(deps.db, {
            ...unseenOf(scope, cursor, attempt),
            exceptKeys: cursor.heldKeys ?? [],
            after: cursor.removedAfter ?? null,
            limit: REMOVE_BATCH,
          })
        ).map((row) => row.worklogId)
    if (batch.length === 0) {
      return
    }
    const removed = await deps.writer.remove(batch, attempt)
    if (removed.kind === 'retry') {
      yield removed
      return
    }
    cursor = {
      ...cursor,
      deleted: cursor.deleted + removed.count,
      ...(cursor.gone
        ? { gone: cursor.gone.slice(batch.length) }
        : { removedAfter: batch.at(-1) as string }),
    }
    deps.log.info(
      { from: scope.from, to: scope.to, removed: removed.count },
      'tempo worklogs removed',
    )
    yield { kind: 'page', cursor, fetched: 0, written: removed.count }
  }
}

// The deletion brake of a window: the cursor with what it holds back (no gone worklog at all while
// one Tempo sent had no readable id; else the keys of each project over its share) and the warning.
async function brake(
  deps: ScanDeps,
  scope: WindowScope,
  cursor: WindowCursor,
  attempt: Attempt,
): Promise<{ cursor: WindowCursor; warning?: string }> {
  const window = `${scope.from}..${scope.to}`
  if ((cursor.unreadable ?? 0) > 0) {
    const warning = `Held back ${goneTotal(cursor)} deletions of worklogs dated ${window}: Tempo sent worklogs whose id could not be read; start a backfill with confirmDeletions: true to apply them.`
    return { cursor: { ...cursor, gone: [] }, warning }
  }
  // By project id: a renamed project's rows under its old and new keys are one project's.
  const { projectOfKey, currentKeys } = attempt.projects
  const shares = await deletionShares(deps.db, {
    ...unseenOf(scope, cursor, attempt),
    projectOfKey,
  })
  const held = shares.filter((share) => deletionHeld(share.gone, share.stored, false))
  if (held.length === 0) {
    return { cursor }
  }
  const warning = held
    .map((share) => {
      const name = currentKeys.get(share.project) ?? share.project
      return heldWarning(`${name} worklogs dated ${window}`, share.gone, share.stored)
    })
    .join(' ')
  const heldKeys = held.flatMap((share) => share.keys)
  if (!cursor.gone) {
    return { cursor: { ...cursor, heldKeys }, warning }
  }
  const keyOf = await projectKeysOfWorklogs(deps.db, cursor.gone)
  const keys = new Set(heldKeys)
  const gone = cursor.gone.filter((id) => !keys.has(keyOf.get(id) ?? ''))
  return { cursor: { ...cursor, heldKeys, gone }, warning }
}

/** Runs an incremental chunk: worklogs updated since the watermark, then the watermark moves. */
export async function* scanUpdated(
  deps: ScanDeps,
  start: UpdatedCursor | null,
  attempt: Attempt,
): AsyncGenerator<StepResult<UpdatedCursor>, void, void> {
  const begun = start ?? (await firstUpdatedCursor(deps))
  // No projectId here: Tempo's updatedFrom with other filters is unverified (v3 refused it).
  const query = { updatedFrom: new Date(begun.updatedFrom), limit: deps.options.pageSize }
  const cursor = yield* scanPages(deps, {
    cursor: begun,
    firstPage: () => deps.tempo.listWorklogs(query, attempt.signal),
    after: 'finish',
    attempt,
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
