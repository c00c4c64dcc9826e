import type { Clock } from '#core/clock.ts'
import { addDays, DAY_MS, isoDay } from '#core/dates.ts'
import type { Database } from '#core/db/client.ts'
import { databaseNow } from '#core/db/database-now.ts'
import { activeProjectKeys } from '#core/db/projects.ts'
import { AppError } from '#core/errors.ts'
import { type DailySync, defineJobKind } from '#core/jobs/registry.ts'
import type { ChunkInput, JobKind, Json, StepResult } from '#core/jobs/types.ts'
import type { Logger } from '#core/log.ts'
import { failureToStep, type RetryStep } from '#core/upstreams/failure.ts'
import type { JiraClient, JiraProjectRef } from '#core/upstreams/jira/client.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import type { TempoClient } from '#core/upstreams/tempo/client.ts'
import { deletionsConfirmed } from '#pipelines/backfill/deletion-brake.ts'
import { projectOfKey } from '#pipelines/jira/projects.ts'
import type { TempoBackfillInput } from './inputs.ts'
import { DEFAULT_CACHE_MAX_AGE_SECONDS } from './jira-cache.ts'
import { createWorklogWriter } from './page-writer.ts'
import {
  type ResolvedProjects,
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
 * Only the job's projects are kept: the named ones, else the active rows of `projects`, else all;
 * each attempt resolves them through Jira to ids (a renamed project's worklogs stay its own). A
 * named project Jira does not know is left out with a warning in the job's progress; when Jira
 * knows none of them, the chunk fails, as a Jira chunk does, rather than succeed having kept
 * nothing. Planning does not wait for Jira: the chunks resolve the projects when they run.
 * The runners are in scan.ts, the page writer in page-writer.ts.
 */

/** `sync-tempo` parameters: the UTC day it runs for. */
export type TempoSyncParams = { day: string }

/**
 * Knobs of the Tempo kinds. Defaults: pages of 1000 worklogs (Tempo allows 5000), windows of 30
 * days, checks of 500 rows by 50 issue ids, cached Jira user names for a week, an overlap of an
 * hour before the watermark, a first sync of 2 days, and a daily rescan of the last 14 days.
 */
export type TempoKindOptions = ScanOptions & {
  /** days per backfill chunk */
  windowDays: number
  /** how long cached Jira user names are used, in seconds */
  cacheMaxAgeSeconds: number
  /** the daily sync also rescans this many days up to today, for deletions */
  recentDays: number
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
}

// The current key and every former key of each listed project.
function namesOf(listed: readonly JiraProjectRef[]) {
  return {
    currentKeys: new Map(listed.map((project) => [project.id, project.key])),
    projectOfKey: new Map(
      listed.flatMap((project) =>
        [project.key, ...project.keys].map((key): [string, string] => [key, project.id]),
      ),
    ),
  }
}

// The attempt's first page carries `warning` (before one of its own): the job's progress shows it.
async function* withWarning<C extends Json>(
  steps: AsyncGenerator<StepResult<C>, void, void>,
  warning: string | undefined,
): AsyncGenerator<StepResult<C>, void, void> {
  let pending = warning
  for await (const step of steps) {
    if (pending && step.kind === 'page') {
      yield { ...step, warning: step.warning ? `${pending} ${step.warning}` : pending }
      pending = undefined
    } else {
      yield step
    }
  }
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
  function scanDeps(): ScanDeps & { jira: NonNullable<TempoKindDeps['jira']> } {
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
    return { db: deps.db, log: deps.log, tempo, jira, writer, options }
  }

  // The projects a job names, else the active ones, else (null) all of them.
  async function projectsOf(named: string[] | undefined): Promise<string[] | null> {
    const keys = named ?? (await activeProjectKeys(deps.db))
    return keys.length > 0 ? keys : null
  }

  // The projects a chunk keeps, resolved through Jira for this attempt: ids (a renamed project is
  // still the same project), every key they had (stored rows carry older ones), and every listed
  // project's keys (the deletion brake counts rows by project).
  async function resolve(
    jira: NonNullable<TempoKindDeps['jira']>,
    named: string[] | null,
    signal: AbortSignal,
  ): Promise<ResolvedProjects | RetryStep> {
    const listed = await jira.listProjects(signal)
    if (!listed.ok) {
      return failureToStep(listed, 'jira', signal)
    }
    const names = namesOf(listed.value)
    if (named === null) {
      return { ids: null, keys: null, ...names }
    }
    const found = named.flatMap((key) => projectOfKey(listed.value, key) ?? [])
    const unknown = named.filter((key) => !projectOfKey(listed.value, key))
    if (found.length === 0) {
      // Nothing could be kept: every worklog would be skipped and the chunk end as if imported.
      throw new AppError(
        'UPSTREAM_FAILED',
        `Jira has no project ${unknown.join(', ')} that this account can see.`,
        { retryable: false },
      )
    }
    const keys = new Set([...named, ...found.flatMap((project) => project.keys)])
    return {
      ids: new Set(found.map((project) => project.id)),
      keys: [...keys],
      ...names,
      ...(unknown.length > 0 && {
        warning: `Jira has no project ${unknown.join(', ')} that this account can see: ${unknown.length > 1 ? 'their' : 'its'} worklogs are left out.`,
      }),
    }
  }

  async function* run(
    input: ChunkInput<WindowScope | UpdatedScope, WindowCursor | UpdatedCursor>,
  ): AsyncGenerator<StepResult<WindowCursor | UpdatedCursor>, void, void> {
    const { scope, signal, lease } = input
    const scan = scanDeps()
    // Issue keys Jira named before this instant are asked again (see page-writer.ts).
    const keysSince = await databaseNow(deps.db)
    const projects = await resolve(scan.jira, scope.projects, signal)
    if ('kind' in projects) {
      yield projects
      return
    }
    const attempt = {
      lease,
      signal,
      keysSince,
      projects,
      confirmed: deletionsConfirmed(input.params),
    }
    // A chunk's cursor is always the one its own runner yielded.
    const steps: AsyncGenerator<
      StepResult<WindowCursor | UpdatedCursor>,
      void,
      void
    > = scope.mode === 'updated'
      ? scanUpdated(scan, input.cursor as UpdatedCursor | null, attempt)
      : scanWindow(scan, scope, input.cursor as WindowCursor | null, attempt)
    yield* withWarning(steps, projects.warning)
  }

  const backfill = defineJobKind<TempoBackfillInput, WindowScope, WindowCursor>({
    kind: 'backfill-tempo',
    async plan(params) {
      scanDeps() // refuse to queue what no worker could run (503 naming the missing settings)
      const projects = await projectsOf(params.projects)
      return windowsOf(params.from, params.to, options.windowDays).map((window) => ({
        mode: 'window' as const,
        ...window,
        projects,
      }))
    },
    run: run as JobKind<TempoBackfillInput, WindowScope, WindowCursor>['run'],
  })

  const sync = defineJobKind<
    TempoSyncParams,
    WindowScope | UpdatedScope,
    WindowCursor | UpdatedCursor
  >({
    kind: 'sync-tempo',
    priority: 0,
    async plan(params) {
      const projects = await projectsOf(undefined)
      const day = params.day ?? isoDay(deps.clock.now())
      return [
        { mode: 'updated' as const, projects },
        { mode: 'window' as const, from: addDays(day, -options.recentDays), to: day, projects },
      ]
    },
    run,
  })

  return { backfill, sync }
}

/** The daily Tempo sync for `jobs/sync`: one `sync-tempo` job per UTC day. */
export const TEMPO_DAILY_SYNC: DailySync = {
  kind: 'sync-tempo',
  dedupeKey: 'sync-tempo',
  params: (day) => ({ day }),
}
