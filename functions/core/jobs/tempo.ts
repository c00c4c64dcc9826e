import type { Clock } from '../clock.ts'
import type { Database } from '../db/client.ts'
import { DEFAULT_CACHE_MAX_AGE_SECONDS } from '../db/jira-cache.ts'
import { activeProjectKeys } from '../db/projects.ts'
import { advanceWatermark, readWatermarks } from '../db/sync-state.ts'
import { databaseNow, findUnseenWorklogs } from '../db/tempo-worklogs.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { JiraClient } from '../upstreams/jira/client.ts'
import type { PineconeSink } from '../upstreams/pinecone/client.ts'
import {
  isTransient,
  type TempoClient,
  type TempoResult,
  type TempoWorklog,
  type WorklogPage,
} from '../upstreams/tempo/client.ts'
import type { DailySync } from './registry.ts'
import { defineJobKind } from './registry.ts'
import { createWorklogWriter, type Retry, retryOrFail, type WorklogWriter } from './tempo-page.ts'
import type { JobKind, StepResult } from './types.ts'

/**
 * The Tempo job kinds (DESIGN §8).
 * - `backfill-tempo`: one chunk per 30-day window of the requested range. A window is scanned page
 *   by page (`metadata.next`), each page written to `tempo_worklogs` and Pinecone; then the rows
 *   of the window nothing wrote since the scan began are checked against Tempo (by issue id, which
 *   also catches a worklog that offset paging skipped while Tempo changed) and removed from both
 *   stores when Tempo no longer has them.
 * - `sync-tempo` (daily): worklogs updated since the watermark less an overlap, then a window scan
 *   of the last days, so recent deletions go too. The watermark moves when the scan completes.
 * Only the job's projects are kept: the named ones, else the active rows of `projects`, else all.
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

/** `backfill-tempo` parameters, as the handler validated them. */
export type TempoBackfillParams = { from: string; to: string; days?: number; projects?: string[] }

/** `sync-tempo` parameters: the UTC day it runs for. */
export type TempoSyncParams = { day: string }

export type TempoKindOptions = {
  /** worklogs per Tempo page (default 1000; Tempo allows 5000) */
  pageSize: number
  /** days per backfill chunk (default 30) */
  windowDays: number
  /** unseen rows checked per step (default 500) */
  checkBatch: number
  /** issue ids per Tempo request of the check (default 50) */
  checkIssueIds: number
  cacheMaxAgeSeconds: number
  /** the incremental sync re-reads this much before its watermark (default 1 hour) */
  syncOverlapMs: number
  /** without a watermark, the first sync reads this far back (default 2 days) */
  firstSyncLookbackMs: number
  /** the daily sync also rescans this many days up to today for deletions (default 14) */
  recentDays: number
}

export type TempoKindDeps = {
  db: Database
  log: Logger
  clock: Clock
  /** Missing clients (settings not configured) fail each chunk with a message naming them. */
  tempo: TempoClient | undefined
  jira: Pick<JiraClient, 'issueKeysByIds' | 'usersByAccountIds' | 'listProjects'> | undefined
  pinecone: Pick<PineconeSink, 'upsertDocuments' | 'deleteIds'> | undefined
  options?: Partial<TempoKindOptions>
}

export const TEMPO_SOURCE = 'tempo'
const DEFAULTS: TempoKindOptions = {
  pageSize: 1000,
  windowDays: 30,
  checkBatch: 500,
  checkIssueIds: 50,
  cacheMaxAgeSeconds: DEFAULT_CACHE_MAX_AGE_SECONDS,
  syncOverlapMs: 60 * 60_000,
  firstSyncLookbackMs: 2 * 86_400_000,
  recentDays: 14,
}
const DAY_MS = 86_400_000

function addDays(day: string, delta: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + delta * DAY_MS).toISOString().slice(0, 10)
}

/** `from`..`to` (inclusive) as consecutive windows of at most `days` days. */
export function windowsOf(
  from: string,
  to: string,
  days: number,
): Array<{ from: string; to: string }> {
  const windows: Array<{ from: string; to: string }> = []
  for (let start = from; start <= to; start = addDays(start, days)) {
    const end = addDays(start, days - 1)
    windows.push({ from: start, to: end < to ? end : to })
  }
  return windows
}

function tempoRetry(failure: Extract<TempoResult<unknown>, { ok: false }>): Retry {
  return retryOrFail('tempo', failure, isTransient(failure))
}

type Clients = { tempo: TempoClient; writer: WorklogWriter }

/** Builds `backfill-tempo` and `sync-tempo` over the given clients. */
export function createTempoKinds(deps: TempoKindDeps): { backfill: JobKind; sync: JobKind } {
  const options = { ...DEFAULTS, ...deps.options }

  function clients(): Clients {
    const { tempo, jira, pinecone } = deps
    if (!tempo || !jira || !pinecone) {
      const missing = [!tempo && 'TEMPO_*', !jira && 'JIRA_*', !pinecone && 'PINECONE_*']
      throw new AppError(
        'INTERNAL',
        `Tempo imports need settings that are missing: ${missing.filter(Boolean).join(', ')}.`,
      )
    }
    const writer = createWorklogWriter({
      db: deps.db,
      log: deps.log,
      jira,
      pinecone,
      cacheMaxAgeSeconds: options.cacheMaxAgeSeconds,
    })
    return { tempo, writer }
  }

  // The job's projects, and Tempo's project ids for them when Jira lists them all (a filter that
  // saves pages and lookups; without it every worklog is fetched and filtered by key).
  async function projectScope(named: string[] | undefined): Promise<ProjectScope> {
    const keys = named ?? (await activeProjectKeys(deps.db))
    if (keys.length === 0) {
      return { projects: null }
    }
    const listed = await deps.jira?.listProjects()
    if (!listed?.ok) {
      deps.log.warn({ reason: listed?.reason }, 'jira projects not listed; tempo filters by key')
      return { projects: keys }
    }
    const ids = new Map(listed.value.map((p) => [p.key, p.id]))
    const projectIds = keys.flatMap((key) => ids.get(key) ?? [])
    return projectIds.length > 0 ? { projects: keys, projectIds } : { projects: keys }
  }

  async function* scanWindow(
    scope: WindowScope,
    start: WindowCursor | null,
    signal: AbortSignal,
  ): AsyncGenerator<StepResult<WindowCursor>, void, void> {
    const { tempo, writer } = clients()
    const projects = scope.projects && new Set(scope.projects)
    let cursor: WindowCursor = start ?? {
      phase: 'scan',
      next: null,
      scanStartedAt: (await databaseNow(deps.db)).toISOString(),
      skipped: 0,
      unresolved: 0,
      deleted: 0,
      checkedAfter: null,
    }
    while (cursor.phase === 'scan') {
      const query = {
        from: scope.from,
        to: scope.to,
        limit: options.pageSize,
        ...(scope.projectIds && { projectIds: scope.projectIds }),
      }
      const page = cursor.next
        ? await tempo.nextPage(cursor.next, signal)
        : await tempo.listWorklogs(query, signal)
      if (!page.ok) {
        yield tempoRetry(page)
        return
      }
      const outcome = await writer.write(page.value.worklogs, projects)
      if (outcome.kind === 'retry') {
        yield outcome
        return
      }
      const failed = outcome.unresolved.length + page.value.invalid
      cursor = {
        ...cursor,
        phase: page.value.next ? 'scan' : 'check',
        next: page.value.next,
        skipped: cursor.skipped + outcome.skipped.length,
        unresolved: cursor.unresolved + failed,
      }
      const fetched = page.value.worklogs.length + page.value.invalid
      yield { kind: 'page', cursor, fetched, written: outcome.written.length, failed }
    }
    for (;;) {
      const unseen = await findUnseenWorklogs(deps.db, {
        from: scope.from,
        to: scope.to,
        projectKeys: scope.projects,
        seenBefore: new Date(cursor.scanStartedAt),
        after: cursor.checkedAfter,
        limit: options.checkBatch,
      })
      if (unseen.length === 0) {
        return
      }
      const issueIds = [...new Set(unseen.map((row) => row.issueId))]
      const still = await worklogsOfIssues(tempo, scope, issueIds, signal)
      if (!Array.isArray(still)) {
        yield still
        return
      }
      // Re-written if Tempo still has them (and they still belong to the job), removed otherwise.
      const wanted = new Set(unseen.map((row) => row.worklogId))
      const found = still.filter((worklog) => wanted.has(worklog.id))
      const outcome = await writer.write(found, projects)
      if (outcome.kind === 'retry') {
        yield outcome
        return
      }
      const keep = new Set([...outcome.written, ...outcome.unresolved])
      const removed = await writer.remove(
        unseen.map((row) => row.worklogId).filter((id) => !keep.has(id)),
      )
      if (removed.kind === 'retry') {
        yield removed
        return
      }
      if (removed.count > 0) {
        deps.log.info(
          { from: scope.from, to: scope.to, removed: removed.count },
          'tempo worklogs removed',
        )
      }
      cursor = {
        ...cursor,
        unresolved: cursor.unresolved + outcome.unresolved.length,
        deleted: cursor.deleted + removed.count,
        checkedAfter: unseen.at(-1)?.worklogId ?? cursor.checkedAfter,
      }
      const written = outcome.written.length
      yield {
        kind: 'page',
        cursor,
        fetched: found.length,
        written,
        failed: outcome.unresolved.length,
      }
    }
  }

  // Every worklog of these issues in the window, all pages.
  async function worklogsOfIssues(
    tempo: TempoClient,
    scope: WindowScope,
    issueIds: string[],
    signal: AbortSignal,
  ): Promise<TempoWorklog[] | Retry> {
    const found: TempoWorklog[] = []
    for (let start = 0; start < issueIds.length; start += options.checkIssueIds) {
      const batch = issueIds.slice(start, start + options.checkIssueIds)
      let page = await tempo.listWorklogs(
        { from: scope.from, to: scope.to, issueIds: batch, limit: options.pageSize },
        signal,
      )
      for (;;) {
        if (!page.ok) {
          return tempoRetry(page)
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

  async function* scanUpdated(
    scope: UpdatedScope,
    start: UpdatedCursor | null,
    signal: AbortSignal,
  ): AsyncGenerator<StepResult<UpdatedCursor>, void, void> {
    const { tempo, writer } = clients()
    const projects = scope.projects && new Set(scope.projects)
    let cursor = start ?? (await firstUpdatedCursor())
    while (cursor.phase === 'scan') {
      // No projectId here: Tempo's updatedFrom with other filters is unverified (v3 refused it).
      const page: TempoResult<WorklogPage> = cursor.next
        ? await tempo.nextPage(cursor.next, signal)
        : await tempo.listWorklogs(
            { updatedFrom: new Date(cursor.updatedFrom), limit: options.pageSize },
            signal,
          )
      if (!page.ok) {
        yield tempoRetry(page)
        return
      }
      const outcome = await writer.write(page.value.worklogs, projects)
      if (outcome.kind === 'retry') {
        yield outcome
        return
      }
      const failed = outcome.unresolved.length + page.value.invalid
      cursor = {
        ...cursor,
        phase: page.value.next ? 'scan' : 'finish',
        next: page.value.next,
        skipped: cursor.skipped + outcome.skipped.length,
        unresolved: cursor.unresolved + failed,
      }
      const fetched = page.value.worklogs.length + page.value.invalid
      yield { kind: 'page', cursor, fetched, written: outcome.written.length, failed }
    }
    await advanceWatermark(deps.db, {
      source: TEMPO_SOURCE,
      scope: '',
      toMs: Date.parse(cursor.startedAt),
      onlyIfCoveredFrom: Date.parse(cursor.updatedFrom),
    })
  }

  async function firstUpdatedCursor(): Promise<UpdatedCursor> {
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

  const backfill = defineJobKind<TempoBackfillParams, WindowScope, WindowCursor>({
    kind: 'backfill-tempo',
    async plan(params) {
      const projects = await projectScope(params.projects)
      return windowsOf(params.from, params.to, options.windowDays).map((window) => ({
        mode: 'window' as const,
        ...window,
        ...projects,
      }))
    },
    run: (input) => scanWindow(input.scope, input.cursor, input.signal),
  })

  const sync = defineJobKind<
    TempoSyncParams,
    WindowScope | UpdatedScope,
    WindowCursor | UpdatedCursor
  >({
    kind: 'sync-tempo',
    async plan(params) {
      const projects = await projectScope(undefined)
      const day = params.day ?? deps.clock.now().toISOString().slice(0, 10)
      return [
        { mode: 'updated' as const, ...projects },
        { mode: 'window' as const, from: addDays(day, -options.recentDays), to: day, ...projects },
      ]
    },
    run: (input) =>
      input.scope.mode === 'updated'
        ? scanUpdated(input.scope, input.cursor as UpdatedCursor | null, input.signal)
        : scanWindow(input.scope, input.cursor as WindowCursor | null, input.signal),
  })

  return { backfill, sync }
}

/** The daily Tempo sync for `jobs/sync`: one `sync-tempo` job per UTC day. */
export const TEMPO_DAILY_SYNC: DailySync = {
  kind: 'sync-tempo',
  dedupeKey: 'sync-tempo',
  params: (day) => ({ day }),
}
