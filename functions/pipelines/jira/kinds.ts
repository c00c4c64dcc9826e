import { DAY_MS } from '#core/dates.ts'
import { activeProjectKeys } from '#core/db/projects.ts'
import { advanceWatermark, readWatermarks } from '#core/db/sync-state.ts'
import { AppError } from '#core/errors.ts'
import { type DailySync, defineJobKind, PLAN_TIMEOUT_MS } from '#core/jobs/registry.ts'
import type { ChunkInput, JobKind, StepResult } from '#core/jobs/types.ts'
import type { Services } from '#core/services.ts'
import type { UpstreamResult } from '#core/upstreams/failure.ts'
import { failureToError, failureToStep } from '#core/upstreams/failure.ts'
import { isStalePageToken, type JiraClient, type JiraIssue } from '#core/upstreams/jira/client.ts'
import { isProjectKey, projectKeysJql, updatedWindowJql } from '#core/upstreams/jira/jql.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import { JIRA_FIELDS, parseIssueTime, toJiraDocument } from './document.ts'
import type { JiraBackfillParams } from './inputs.ts'

/**
 * The Jira → Pinecone job kinds (docs/ARCHITECTURE.md, "Pipelines"):
 * - `backfill-jira`: the issues updated in the last `days` days, one chunk per project;
 * - `sync-jira`: the daily incremental run, from each project's watermark less an overlap.
 * A chunk's scope is `{ project, fromMs, toMs }` with `toMs` frozen when the job is planned, so a
 * chunk always ends. Pages of `search/jql` are ordered by `updated`, then `key`; an issue updated
 * while we page moves behind us and is read again (upserts by id make that harmless).
 * After the pages, a reconcile deletes the project's vectors whose issue Jira no longer has (deleted,
 * or moved to another project, which changes its key).
 */

/** `sync-jira` parameters: the projects to sync (default: as for a backfill). */
export type JiraSyncParams = { projects?: string[] }
/** One project's window, epoch ms, both bounds inclusive. */
export type JiraScope = { project: string; fromMs: number; toMs: number }
/**
 * Where a chunk continues: the lower bound of the JQL its token belongs to, Jira's token, and the
 * `updated` of the newest issue written so far (the restart point when a token is refused);
 * `phase: 'reconcile'` once every page is written (a resumed chunk then repeats only the reconcile).
 */
export type JiraCursor = {
  fromMs: number
  nextPageToken?: string
  lastUpdatedMs?: number
  phase?: 'reconcile'
}

export type JiraJobDeps = Pick<
  Services,
  'db' | 'clock' | 'config' | 'jira' | 'pinecone' | 'log'
> & {
  /** How long planning may wait for Jira, in ms (default `PLAN_TIMEOUT_MS`). */
  planTimeoutMs?: number
}

/** The watermark source for Jira in `sync_state`. */
export const JIRA_SOURCE = 'jira'
/** A sync starts this far before the watermark: Jira's search is eventually consistent. */
export const SYNC_OVERLAP_MS = 10 * 60_000
/** A project's first sync (no watermark yet) looks back this far. */
export const SYNC_FIRST_LOOKBACK_MS = 2 * DAY_MS
/** Issues per page: Jira serves about 100 with real fields. */
export const PAGE_SIZE = 100
/** Keys per page of the reconcile's key scan: Jira serves up to 5000 when only `key` is asked. */
export const KEY_PAGE_SIZE = 5000

const LOGGED_KEYS = 20

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

// The projects a job covers: those the request names, else the active rows of `projects`, else
// every project Jira shows the account (keys outside Jira's key syntax are left out, and logged).
// Throws UNAVAILABLE when Jira is not configured, does not answer before `signal` aborts, or is
// down; UPSTREAM_FAILED when it refuses the listing.
async function projectsToCover(
  deps: JiraJobDeps,
  named: readonly string[] | undefined,
  signal: AbortSignal,
): Promise<string[]> {
  if (named && named.length > 0) {
    return [...new Set(named)]
  }
  const active = await activeProjectKeys(deps.db)
  if (active.length > 0) {
    return active
  }
  const { jira } = requireUpstreams(deps)
  const listed = await jira.listProjects(signal)
  if (!listed.ok) {
    if (signal.aborted) {
      throw new AppError('UNAVAILABLE', 'Jira did not answer in time; try again.', {
        retryable: true,
        cause: listed,
        publicMessage: true,
      })
    }
    throw failureToError(listed, 'list the Jira projects')
  }
  const keys = listed.value.map((project) => project.key)
  const skipped = keys.filter((key) => !isProjectKey(key))
  if (skipped.length > 0) {
    deps.log.warn(
      { skipped: skipped.length, keys: skipped.slice(0, LOGGED_KEYS) },
      'jira projects left out: keys outside the project key syntax',
    )
  }
  return keys.filter(isProjectKey)
}

// What both kinds plan from: the settings checked, `now` frozen (epoch ms) and the projects, with
// `planTimeoutMs` for Jira (planning runs inside the web start).
async function planProjects(deps: JiraJobDeps, named: readonly string[] | undefined) {
  requireUpstreams(deps)
  const toMs = deps.clock.now().getTime()
  const deadline = AbortSignal.timeout(deps.planTimeoutMs ?? PLAN_TIMEOUT_MS)
  return { toMs, keys: await projectsToCover(deps, named, deadline) }
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

/**
 * Writes one project's window page by page; returns the last page's cursor (phase `reconcile`), or
 * nothing after yielding a retry.
 */
async function* writePages(
  deps: JiraJobDeps,
  { jira, pinecone }: Upstreams,
  input: ChunkInput<JiraScope, JiraCursor>,
): AsyncGenerator<StepResult<JiraCursor>, JiraCursor | undefined, void> {
  const { scope, signal } = input
  const jiraBaseUrl = deps.config.jira?.baseUrl ?? ''
  let cursor = startCursor(scope, input.cursor)
  for (;;) {
    const jql = updatedWindowJql({
      project: scope.project,
      fromMs: cursor.fromMs,
      toMs: scope.toMs,
    })
    const page = await jira.searchPage({
      jql,
      fields: JIRA_FIELDS,
      maxResults: PAGE_SIZE,
      signal,
      ...(cursor.nextPageToken !== undefined && { nextPageToken: cursor.nextPageToken }),
    })
    if (!page.ok) {
      if (cursor.nextPageToken !== undefined && isStalePageToken(page)) {
        // Tokens expire (7 days) and a resumed job may hold an old one: start again from the
        // newest issue written; what repeats is upserted again by id.
        deps.log.info({ project: scope.project }, 'jira page token refused; restarting window')
        const { lastUpdatedMs } = cursor
        cursor = {
          fromMs: lastUpdatedMs ?? cursor.fromMs,
          ...(lastUpdatedMs !== undefined && { lastUpdatedMs }),
        }
        continue
      }
      yield failureToStep(page, 'jira', signal)
      return undefined
    }
    const { issues, isLast, nextPageToken } = page.value
    const now = deps.clock.now()
    const documents = issues.map((issue) =>
      toJiraDocument(issue, { project: scope.project, jiraBaseUrl, now }),
    )
    const written = await pinecone.upsertDocuments(documents, signal)
    if (!written.ok) {
      yield failureToStep(written, 'pinecone', signal)
      return undefined
    }
    const lastUpdatedMs = newestUpdated(issues) ?? cursor.lastUpdatedMs
    cursor = {
      fromMs: cursor.fromMs,
      ...(nextPageToken !== undefined && { nextPageToken }),
      ...(lastUpdatedMs !== undefined && { lastUpdatedMs }),
      ...(isLast && { phase: 'reconcile' as const }),
    }
    yield { kind: 'page', cursor, fetched: issues.length, written: written.written }
    if (isLast) {
      return cursor
    }
  }
}

/** Every issue key the project holds now; a failure (or abort) on any page is the result. */
async function projectIssueKeys(
  jira: JiraClient,
  project: string,
  signal: AbortSignal,
): Promise<UpstreamResult<Set<string>>> {
  const jql = projectKeysJql(project)
  const keys = new Set<string>()
  let nextPageToken: string | undefined
  for (;;) {
    const page = await jira.searchPage({
      jql,
      fields: ['key'],
      maxResults: KEY_PAGE_SIZE,
      signal,
      ...(nextPageToken !== undefined && { nextPageToken }),
    })
    if (!page.ok) {
      return page
    }
    for (const issue of page.value.issues) {
      keys.add(issue.key)
    }
    if (page.value.isLast) {
      return { ok: true, value: keys }
    }
    nextPageToken = page.value.nextPageToken
  }
}

/**
 * Deletes the project's vectors whose issue Jira no longer returns, then yields one step (the
 * deletes counted as written) so the engine checkpoints. Idempotent, so a crash repeats it whole.
 * Nothing is deleted unless the key scan finished, nor when Jira returns no key at all.
 */
async function* reconcile(
  deps: JiraJobDeps,
  { jira, pinecone }: Upstreams,
  project: string,
  cursor: JiraCursor,
  signal: AbortSignal,
): AsyncGenerator<StepResult<JiraCursor>, void, void> {
  // Pinecone before Jira: a vector another chunk writes after this listing is never a candidate.
  // The dash keeps `jira-AB-` from matching `jira-ABC-1`.
  const listed = await pinecone.listIds(`jira-${project}-`, signal)
  if (!listed.ok) {
    yield failureToStep(listed, 'pinecone', signal)
    return
  }
  const keys = await projectIssueKeys(jira, project, signal)
  if (!keys.ok) {
    yield failureToStep(keys, 'jira', signal)
    return
  }
  const gone = listed.ids.filter((id) => !keys.value.has(id.slice('jira-'.length)))
  let deleted = 0
  if (keys.value.size === 0 && gone.length > 0) {
    // More likely lost permissions or a renamed project than an emptied one: keep the index.
    deps.log.warn(
      { project, vectors: gone.length },
      'jira returned no issues for a project with vectors; nothing deleted',
    )
  } else if (gone.length > 0) {
    const result = await pinecone.deleteIds(gone, signal)
    if (!result.ok) {
      yield failureToStep(result, 'pinecone', signal)
      return
    }
    deleted = gone.length
  }
  deps.log.info(
    { project, deleted, ...(deleted > 0 && { ids: gone.slice(0, LOGGED_KEYS) }) },
    'jira reconcile: vectors of issues gone from Jira deleted',
  )
  yield { kind: 'page', cursor, fetched: 0, written: deleted }
}

/**
 * Runs one project's window page by page, then the reconcile. After the last page it moves the
 * project's watermark to the window's end (for a backfill only when that leaves no gap); a crash
 * before that repeats at most the newest issues, never skips any.
 */
function createRunner(deps: JiraJobDeps, watermark: 'always' | 'when-covered') {
  return async function* run(
    input: ChunkInput<JiraScope, JiraCursor>,
  ): AsyncGenerator<StepResult<JiraCursor>, void, void> {
    const upstreams = requireUpstreams(deps)
    const { scope } = input
    let cursor = input.cursor
    if (cursor?.phase !== 'reconcile') {
      cursor = (yield* writePages(deps, upstreams, input)) ?? null
      if (!cursor) {
        return
      }
    }
    // Repeated when a resumed chunk repeats the reconcile: the watermark only moves forward.
    await advanceWatermark(deps.db, {
      source: JIRA_SOURCE,
      scope: scope.project,
      toMs: scope.toMs,
      ...(watermark === 'when-covered' && { onlyIfCoveredFrom: scope.fromMs }),
    })
    yield* reconcile(deps, upstreams, scope.project, cursor, input.signal)
  }
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
      const { toMs, keys } = await planProjects(deps, params.projects)
      const fromMs = Math.max(0, toMs - params.days * DAY_MS)
      return keys.map((project) => ({ project, fromMs, toMs }))
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
    async plan(params) {
      const { toMs, keys } = await planProjects(deps, params.projects)
      const watermarks = await readWatermarks(deps.db, JIRA_SOURCE, keys)
      return keys.map((project) => {
        const watermark = watermarks.get(project)
        const from =
          watermark === undefined ? toMs - SYNC_FIRST_LOOKBACK_MS : watermark - SYNC_OVERLAP_MS
        return { project, fromMs: Math.max(0, Math.min(from, toMs)), toMs }
      })
    },
    run: createRunner(deps, 'always'),
  })
}
