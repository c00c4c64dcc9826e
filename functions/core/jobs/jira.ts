import { activeProjectKeys } from '../db/projects.ts'
import { advanceWatermark, readWatermarks } from '../db/sync-state.ts'
import { AppError } from '../errors.ts'
import type { Services } from '../services.ts'
import { failureToError, failureToStep } from '../upstreams/failure.ts'
import { isStalePageToken, type JiraClient, type JiraIssue } from '../upstreams/jira/client.ts'
import { isProjectKey, updatedWindowJql } from '../upstreams/jira/jql.ts'
import type { PineconeSink } from '../upstreams/pinecone/client.ts'
import { JIRA_FIELDS, parseIssueTime, toJiraDocument } from './jira-document.ts'
import { defineJobKind, PLAN_TIMEOUT_MS } from './registry.ts'
import type { ChunkInput, JobKind, StepResult } from './types.ts'

/**
 * The Jira → Pinecone job kinds (DESIGN §8):
 * - `backfill-jira`: the issues updated in the last `days` days, one chunk per project;
 * - `sync-jira`: the daily incremental run, from each project's watermark less an overlap.
 * A chunk's scope is `{ project, fromMs, toMs }` with `toMs` frozen when the job is planned, so a
 * chunk always ends. Pages of `search/jql` are ordered by `updated`, then `key`; an issue updated
 * while we page moves behind us and is read again (upserts by id make that harmless).
 */

/** `backfill-jira` parameters, validated by the start route. */
export type JiraBackfillParams = { days: number; projects?: string[] }
/** `sync-jira` parameters: the projects to sync (default: as for a backfill). */
export type JiraSyncParams = { projects?: string[] }
/** One project's window, epoch ms, both bounds inclusive. */
export type JiraScope = { project: string; fromMs: number; toMs: number }
/**
 * Where a chunk continues: the lower bound of the JQL its token belongs to, Jira's token, and the
 * `updated` of the newest issue written so far (the restart point when a token is refused).
 */
export type JiraCursor = { fromMs: number; nextPageToken?: string; lastUpdatedMs?: number }

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
export const SYNC_FIRST_LOOKBACK_MS = 2 * 86_400_000
/** Issues per page: Jira serves about 100 with real fields. */
export const PAGE_SIZE = 100

const DAY_MS = 86_400_000
const LOGGED_KEYS = 20

// Missing settings are no outage that passes: UNAVAILABLE (503) at a start, and a chunk that
// fails for good in the worker, both naming the variables.
function requireUpstreams(deps: JiraJobDeps): { jira: JiraClient; pinecone: PineconeSink } {
  if (!deps.jira) {
    throw new AppError(
      'UNAVAILABLE',
      'Jira is not configured (JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN).',
      { retryable: false },
    )
  }
  if (!deps.pinecone) {
    throw new AppError(
      'UNAVAILABLE',
      'Pinecone is not configured (PINECONE_API_KEY, PINECONE_INDEX_HOST).',
      { retryable: false },
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

/**
 * Runs one project's window page by page. After the last page it moves the project's watermark to
 * the window's end (for a backfill only when that leaves no gap); a crash before that repeats at
 * most the newest issues, never skips any.
 */
function createRunner(deps: JiraJobDeps, watermark: 'always' | 'when-covered') {
  return async function* run(
    input: ChunkInput<JiraScope, JiraCursor>,
  ): AsyncGenerator<StepResult<JiraCursor>, void, void> {
    const { jira, pinecone } = requireUpstreams(deps)
    const { scope, signal } = input
    const jiraBaseUrl = deps.config.jira?.baseUrl ?? ''
    // Without a token, a resumed chunk restarts at the newest `updated` it wrote (inclusive).
    let cursor: JiraCursor = input.cursor?.nextPageToken
      ? input.cursor
      : {
          fromMs: input.cursor?.lastUpdatedMs ?? input.cursor?.fromMs ?? scope.fromMs,
          ...(input.cursor?.lastUpdatedMs !== undefined && {
            lastUpdatedMs: input.cursor.lastUpdatedMs,
          }),
        }
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
        return
      }
      const { issues } = page.value
      const now = deps.clock.now()
      const documents = issues.map((issue) =>
        toJiraDocument(issue, { project: scope.project, jiraBaseUrl, now }),
      )
      const written = await pinecone.upsertDocuments(documents, signal)
      if (!written.ok) {
        yield failureToStep(written, 'pinecone', signal)
        return
      }
      const lastUpdatedMs = newestUpdated(issues) ?? cursor.lastUpdatedMs
      cursor = {
        fromMs: cursor.fromMs,
        ...(page.value.nextPageToken !== undefined && { nextPageToken: page.value.nextPageToken }),
        ...(lastUpdatedMs !== undefined && { lastUpdatedMs }),
      }
      yield { kind: 'page', cursor, fetched: issues.length, written: written.written }
      if (page.value.isLast) {
        break
      }
    }
    await advanceWatermark(deps.db, {
      source: JIRA_SOURCE,
      scope: scope.project,
      toMs: scope.toMs,
      ...(watermark === 'when-covered' && { onlyIfCoveredFrom: scope.fromMs }),
    })
  }
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
