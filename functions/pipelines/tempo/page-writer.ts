import type { Database } from '#core/db/client.ts'
import type { Logger } from '#core/log.ts'
import { failureToStep, type RetryStep, type UpstreamFailure } from '#core/upstreams/failure.ts'
import type { JiraClient } from '#core/upstreams/jira/client.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import type { TempoWorklog } from '#core/upstreams/tempo/client.ts'
import {
  AUTHOR_FALLBACK,
  projectKeyOf,
  type ResolvedWorklog,
  tempoVectorId,
  toTempoDocument,
  toWorklogRow,
} from './document.ts'
import { findIssueKeys, findUsers, saveIssueKeys, saveUsers } from './jira-cache.ts'
import { deleteWorklogs, touchWorklogs, upsertWorklogs } from './worklogs-table.ts'

/**
 * Writes pages of Tempo worklogs to both stores: issue ids → keys and account ids → names through
 * the Jira caches (one batched Jira call per page for what the cache lacks), then `tempo_worklogs`
 * and Pinecone. Rows go first and vectors second, and deletes the other way round, so a vector
 * never outlives the row that lets a later scan find it.
 */

/**
 * How a page went. `written`: in both stores; `unresolved`: Jira does not know the issue (reported
 * as failed items, kept in the stores if already there); `skipped`: of a project the job leaves out.
 */
export type PageOutcome =
  | { kind: 'written'; written: string[]; unresolved: string[]; skipped: string[] }
  | RetryStep

/** What the page writer uses: the database, the log, and the Jira and Pinecone clients. */
export type WorklogWriterDeps = {
  db: Database
  log: Logger
  jira: Pick<JiraClient, 'issueKeysByIds' | 'usersByAccountIds'>
  pinecone: Pick<PineconeSink, 'upsertDocuments' | 'deleteIds'>
  /** How long cached Jira answers are used, in seconds. */
  cacheMaxAgeSeconds: number
}

const LOGGED_IDS = 20

/**
 * The page writer of the Tempo job kinds. Its calls take the chunk's abort signal, passed on to
 * Jira and Pinecone. A transient upstream failure becomes a retry; any other fails the chunk.
 */
export function createWorklogWriter(deps: WorklogWriterDeps) {
  // Cached entries first, then one Jira call for the rest. Only Jira's answers are cached: an id
  // it did not return (or a failed call) is asked again next time.
  async function readThrough<T>(
    ids: string[],
    cache: {
      find: (ids: string[]) => Promise<Map<string, T>>
      save: (entries: T[]) => Promise<void>
      idOf: (entry: T) => string
    },
    lookup: (missing: string[]) => Promise<{ ok: true; value: T[] } | UpstreamFailure>,
    signal: AbortSignal,
  ): Promise<Map<string, T> | RetryStep> {
    const cached = await cache.find(ids)
    const missing = ids.filter((id) => !cached.has(id))
    if (missing.length === 0) {
      return cached
    }
    const looked = await lookup(missing)
    if (!looked.ok) {
      return failureToStep(looked, 'jira', signal)
    }
    await cache.save(looked.value)
    for (const entry of looked.value) {
      cached.set(cache.idOf(entry), entry)
    }
    return cached
  }

  const issueKeys = (issueIds: string[], signal: AbortSignal) =>
    readThrough(
      issueIds,
      {
        find: (ids) => findIssueKeys(deps.db, ids, deps.cacheMaxAgeSeconds),
        save: (entries) => saveIssueKeys(deps.db, entries),
        idOf: (entry) => entry.issueId,
      },
      async (missing) => {
        const looked = await deps.jira.issueKeysByIds(missing, signal)
        return looked.ok
          ? {
              ok: true,
              value: looked.value.map(({ id, key, projectKey }) => ({
                issueId: id,
                issueKey: key,
                projectKey: projectKeyOf(key) ?? projectKey,
              })),
            }
          : looked
      },
      signal,
    )

  const users = (accountIds: string[], signal: AbortSignal) =>
    readThrough(
      accountIds,
      {
        find: (ids) => findUsers(deps.db, ids, deps.cacheMaxAgeSeconds),
        save: (entries) => saveUsers(deps.db, entries),
        idOf: (entry) => entry.accountId,
      },
      async (missing) => {
        const looked = await deps.jira.usersByAccountIds(missing, signal)
        return looked.ok
          ? {
              ok: true,
              value: looked.value
                .filter((user) => user.displayName.trim() !== '')
                .map((user) => ({
                  accountId: user.accountId,
                  displayName: user.displayName,
                  email: user.emailAddress?.trim() || null,
                })),
            }
          : looked
      },
      signal,
    )

  /** Resolves, filters and writes one page; `projects` null means every project. */
  async function write(
    worklogs: readonly TempoWorklog[],
    projects: ReadonlySet<string> | null,
    signal: AbortSignal,
  ): Promise<PageOutcome> {
    const keys = await issueKeys([...new Set(worklogs.map((w) => w.issueId))], signal)
    if (!(keys instanceof Map)) {
      return keys
    }
    const unresolved: TempoWorklog[] = []
    const skipped: string[] = []
    const kept: Array<{ worklog: TempoWorklog; issueKey: string; projectKey: string }> = []
    for (const worklog of worklogs) {
      const issue = keys.get(worklog.issueId)
      if (!issue) {
        unresolved.push(worklog)
      } else if (projects && !projects.has(issue.projectKey)) {
        skipped.push(worklog.id)
      } else {
        kept.push({ worklog, issueKey: issue.issueKey, projectKey: issue.projectKey })
      }
    }
    const names = await users([...new Set(kept.map((k) => k.worklog.accountId))], signal)
    if (!(names instanceof Map)) {
      return names
    }
    const resolved: ResolvedWorklog[] = kept.map((k) => {
      const user = names.get(k.worklog.accountId)
      return {
        ...k,
        authorName: user?.displayName ?? AUTHOR_FALLBACK,
        authorEmail: k.worklog.authorEmail ?? user?.email ?? null,
      }
    })
    await upsertWorklogs(deps.db, resolved.map(toWorklogRow))
    const upserted = await deps.pinecone.upsertDocuments(resolved.map(toTempoDocument), signal)
    if (!upserted.ok) {
      return failureToStep(upserted, 'pinecone', signal)
    }
    if (unresolved.length > 0) {
      // Still in Tempo, so not to be deleted as unseen: Jira may know the issue again later.
      await touchWorklogs(
        deps.db,
        unresolved.map((w) => w.id),
      )
      deps.log.warn(
        {
          unresolved: unresolved.length,
          worklogIds: unresolved.slice(0, LOGGED_IDS).map((w) => w.id),
          issueIds: [...new Set(unresolved.map((w) => w.issueId))].slice(0, LOGGED_IDS),
        },
        'tempo worklogs whose issue Jira does not return',
      )
    }
    return {
      kind: 'written',
      written: resolved.map((r) => r.worklog.id),
      unresolved: unresolved.map((w) => w.id),
      skipped,
    }
  }

  /** Removes worklogs from Pinecone, then from `tempo_worklogs`. */
  async function remove(
    worklogIds: readonly string[],
    signal: AbortSignal,
  ): Promise<{ kind: 'removed'; count: number } | RetryStep> {
    if (worklogIds.length === 0) {
      return { kind: 'removed', count: 0 }
    }
    const deleted = await deps.pinecone.deleteIds(worklogIds.map(tempoVectorId), signal)
    if (!deleted.ok) {
      return failureToStep(deleted, 'pinecone', signal)
    }
    return { kind: 'removed', count: await deleteWorklogs(deps.db, worklogIds) }
  }

  return { write, remove }
}

/** Writes and removes pages of worklogs (see `createWorklogWriter`). */
export type WorklogWriter = ReturnType<typeof createWorklogWriter>
