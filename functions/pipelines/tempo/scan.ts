import type { Database } from '#core/db/client.ts'
import { databaseNow } from '#core/db/database-now.ts'
import { advanceWatermark, readWatermarks } from '#core/db/sync-state.ts'
import type { HeldLease } from '#core/jobs/lease-fence.ts'
import type { StepResult } from '#core/jobs/types.ts'
import type { Logger } from '#core/log.ts'
import { failureToStep, type RetryStep, type UpstreamResult } from '#core/upstreams/failure.ts'
import type { TempoClient, TempoWorklog, WorklogPage } from '#core/upstreams/tempo/client.ts'
import { deletionHeld, heldWarning } from '#pipelines/backfill/deletion-brake.ts'
import type { ProjectFilter, WorklogWriter } from './page-writer.ts'
import { deletionShares, findUnseenWorklogs, projectKeysOfWorklogs } from './worklogs-table.ts'

/**
 * The chunk runners of the Tempo kinds (see kinds.ts). A window chunk scans `from`..`to` page by
 * page, then checks the stored rows of the window that nothing wrote since the scan began: it asks
 * Tempo for them by issue id (which also finds a worklog that offset paging skipped while Tempo
 * changed between pages) and writes back what Tempo still has. What Tempo no longer has is counted
 * first and removed from both stores after, a step per 1000, unless the deletion brake holds a
 * project's share back, or a worklog Tempo sent could not be read at all (then nothing is removed:
 * it may be one of them). An incremental chunk reads what changed since the watermark less an
 * overlap, then moves it.
 */

/** Which projects a chunk keeps: keys as named (null: all); `projectIds` from older plans. */
export type ProjectScope = { projects: string[] | null; projectIds?: string[] }

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
  /** worklogs Tempo no longer has, found by the check, still to remove */
  gone?: string[]
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
}

/** What the runners use. */
export type ScanDeps = {
  db: Database
  log: Logger
  tempo: TempoClient
  writer: WorklogWriter
  options: ScanOptions
}

/** What one attempt runs with. */
export type Attempt = {
  lease: HeldLease
  signal: AbortSignal
  projects: ResolvedProjects
  /** a start with `confirmDeletions: true` */
  confirmed: boolean
}

// Worklogs removed per step.
const REMOVE_BATCH = 1000

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
  return {
    kind: 'page',
    cursor: {
      ...cursor,
      unresolved: cursor.unresolved + outcome.unresolved.length + still.unreadable,
      ...(still.unreadable > 0 && { unreadable: (cursor.unreadable ?? 0) + still.unreadable }),
      gone: [...(cursor.gone ?? []), ...gone],
      checkedAfter: unseen.at(-1)?.worklogId ?? cursor.checkedAfter,
    },
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

// Removes what the check found gone, a step per batch, after the deletion brake had its say: a
// project whose share is over the limit keeps all of it (a warning names the count), and so does
// every project while a worklog Tempo sent could not be read.
async function* removeGone(
  deps: ScanDeps,
  scope: WindowScope,
  start: WindowCursor,
  attempt: Attempt,
): AsyncGenerator<StepResult<WindowCursor>, void, void> {
  let cursor = start
  let gone = cursor.gone ?? []
  if (gone.length === 0) {
    return
  }
  const window = `${scope.from}..${scope.to}`
  if (cursor.deleted === 0 && !attempt.confirmed) {
    const held = new Set<string>()
    const warnings: string[] = []
    if ((cursor.unreadable ?? 0) > 0) {
      warnings.push(
        `Held back ${gone.length} deletions of worklogs dated ${window}: Tempo sent worklogs whose id could not be read; start a backfill with confirmDeletions: true to apply them.`,
      )
      gone = []
    } else {
      for (const share of await deletionShares(deps.db, gone, scope)) {
        if (deletionHeld(share.gone, share.stored, false)) {
          held.add(share.projectKey)
          warnings.push(
            heldWarning(`${share.projectKey} worklogs dated ${window}`, share.gone, share.stored),
          )
        }
      }
      if (held.size > 0) {
        const projectOf = await projectKeysOfWorklogs(deps.db, gone)
        gone = gone.filter((id) => !held.has(projectOf.get(id) ?? ''))
      }
    }
    if (warnings.length > 0) {
      deps.log.warn({ from: scope.from, to: scope.to, warnings }, 'tempo deletions held back')
      cursor = { ...cursor, gone }
      yield { kind: 'page', cursor, fetched: 0, written: 0, warning: warnings.join(' ') }
    }
  }
  while (gone.length > 0) {
    const batch = gone.slice(0, REMOVE_BATCH)
    const removed = await deps.writer.remove(batch, attempt)
    if (removed.kind === 'retry') {
      yield removed
      return
    }
    gone = gone.slice(REMOVE_BATCH)
    cursor = { ...cursor, gone, deleted: cursor.deleted + removed.count }
    deps.log.info(
      { from: scope.from, to: scope.to, removed: removed.count },
      'tempo worklogs removed',
    )
    yield { kind: 'page', cursor, fetched: 0, written: removed.count }
  }
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
