import type { Clock } from '#core/clock.ts'
import { addDays, DAY_MS, isoDay } from '#core/dates.ts'
import type { Database } from '#core/db/client.ts'
import { activeProjectKeys } from '#core/db/projects.ts'
import { AppError } from '#core/errors.ts'
import { type DailySync, defineJobKind, PLAN_TIMEOUT_MS } from '#core/jobs/registry.ts'
import type { JobKind } from '#core/jobs/types.ts'
import type { Logger } from '#core/log.ts'
import type { JiraClient } from '#core/upstreams/jira/client.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import type { TempoClient } from '#core/upstreams/tempo/client.ts'
import type { TempoBackfillInput } from './inputs.ts'
import { DEFAULT_CACHE_MAX_AGE_SECONDS } from './jira-cache.ts'
import { createWorklogWriter } from './page-writer.ts'
import {
  type ProjectScope,
  type ScanDeps,
  type ScanOptions,
  scanUpdated,
  scanWindow,
  type UpdatedCursor,
  type UpdatedScope,
  type WindowCursor,
  type WindowScope,
} from './scan.ts'

/**
 * The Tempo job kinds (docs/ARCHITECTURE.md, "Pipelines").
 * - `backfill-tempo`: one chunk per 30-day window of the requested range. A window is scanned page
 *   by page (`metadata.next`), each page written to `tempo_worklogs` and Pinecone; then the rows
 *   of the window nothing wrote since the scan began are checked against Tempo (by issue id, which
 *   also catches a worklog that offset paging skipped while Tempo changed) and removed from both
 *   stores when Tempo no longer has them.
 * - `sync-tempo` (daily): worklogs updated since the watermark less an overlap, then a window scan
 *   of the last days, so recent deletions go too. The watermark moves when the scan completes.
 * Only the job's projects are kept: the named ones, else the active rows of `projects`, else all.
 * The runners are in scan.ts, the page writer in page-writer.ts.
 */

/** `sync-tempo` parameters: the UTC day it runs for. */
export type TempoSyncParams = { day: string }

/**
 * Knobs of the Tempo kinds. Defaults: pages of 1000 worklogs (Tempo allows 5000), windows of 30
 * days, checks of 500 rows by 50 issue ids, cached Jira answers for a week, an overlap of an hour
 * before the watermark, a first sync of 2 days, a daily rescan of the last 14 days, and planning
 * that waits at most `PLAN_TIMEOUT_MS` for Jira's project list.
 */
export type TempoKindOptions = ScanOptions & {
  /** days per backfill chunk */
  windowDays: number
  /** how long cached Jira answers are used, in seconds */
  cacheMaxAgeSeconds: number
  /** the daily sync also rescans this many days up to today, for deletions */
  recentDays: number
  /** how long planning waits for Jira's project list, in ms, before it plans without it */
  planTimeoutMs: number
}

/** What the Tempo kinds use (a slice of `Services`, plus knobs for tests). */
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

const DEFAULTS: TempoKindOptions = {
  pageSize: 1000,
  windowDays: 30,
  checkBatch: 500,
  checkIssueIds: 50,
  cacheMaxAgeSeconds: DEFAULT_CACHE_MAX_AGE_SECONDS,
  syncOverlapMs: 60 * 60_000,
  firstSyncLookbackMs: 2 * DAY_MS,
  recentDays: 14,
  planTimeoutMs: PLAN_TIMEOUT_MS,
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

/** Builds `backfill-tempo` and `sync-tempo` over the given clients. */
export function createTempoKinds(deps: TempoKindDeps): { backfill: JobKind; sync: JobKind } {
  const options = { ...DEFAULTS, ...deps.options }

  // Built when a chunk starts, so missing settings fail the chunk with a message, not the worker.
  function scanDeps(): ScanDeps {
    const { tempo, jira, pinecone } = deps
    if (!tempo || !jira || !pinecone) {
      const missing = [!tempo && 'TEMPO_*', !jira && 'JIRA_*', !pinecone && 'PINECONE_*']
      throw new AppError(
        'UNAVAILABLE',
        `Tempo imports need settings that are missing: ${missing.filter(Boolean).join(', ')}.`,
        { retryable: false, publicMessage: true },
      )
    }
    const writer = createWorklogWriter({
      db: deps.db,
      log: deps.log,
      jira,
      pinecone,
      cacheMaxAgeSeconds: options.cacheMaxAgeSeconds,
    })
    return { db: deps.db, log: deps.log, tempo, writer, options }
  }

  // The job's projects, and Tempo's project ids for them when Jira lists every one in time (a
  // filter that saves pages and lookups; without it every worklog is fetched and filtered by its
  // issue's key). Planning runs inside the web start: Jira gets `planTimeoutMs`.
  async function projectScope(named: string[] | undefined): Promise<ProjectScope> {
    const keys = named ?? (await activeProjectKeys(deps.db))
    if (keys.length === 0) {
      return { projects: null }
    }
    const listed = await deps.jira?.listProjects(AbortSignal.timeout(options.planTimeoutMs))
    if (!listed?.ok) {
      deps.log.warn({ reason: listed?.reason }, 'jira projects not listed; tempo filters by key')
      return { projects: keys }
    }
    const ids = new Map(listed.value.map((p) => [p.key, p.id]))
    const projectIds = keys.flatMap((key) => ids.get(key) ?? [])
    return projectIds.length === keys.length ? { projects: keys, projectIds } : { projects: keys }
  }

  const backfill = defineJobKind<TempoBackfillInput, WindowScope, WindowCursor>({
    kind: 'backfill-tempo',
    async plan(params) {
      scanDeps() // refuse to queue what no worker could run (503 naming the missing settings)
      const projects = await projectScope(params.projects)
      return windowsOf(params.from, params.to, options.windowDays).map((window) => ({
        mode: 'window' as const,
        ...window,
        ...projects,
      }))
    },
    async *run(input) {
      yield* scanWindow(scanDeps(), input.scope, input.cursor, input.signal)
    },
  })

  const sync = defineJobKind<
    TempoSyncParams,
    WindowScope | UpdatedScope,
    WindowCursor | UpdatedCursor
  >({
    kind: 'sync-tempo',
    async plan(params) {
      const projects = await projectScope(undefined)
      const day = params.day ?? isoDay(deps.clock.now())
      return [
        { mode: 'updated' as const, ...projects },
        { mode: 'window' as const, from: addDays(day, -options.recentDays), to: day, ...projects },
      ]
    },
    async *run(input) {
      const { scope, signal } = input
      // A chunk's cursor is always the one its own runner yielded.
      yield* scope.mode === 'updated'
        ? scanUpdated(scanDeps(), scope, input.cursor as UpdatedCursor | null, signal)
        : scanWindow(scanDeps(), scope, input.cursor as WindowCursor | null, signal)
    },
  })

  return { backfill, sync }
}

/** The daily Tempo sync for `jobs/sync`: one `sync-tempo` job per UTC day. */
export const TEMPO_DAILY_SYNC: DailySync = {
  kind: 'sync-tempo',
  dedupeKey: 'sync-tempo',
  params: (day) => ({ day }),
}
