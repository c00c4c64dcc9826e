import type { Database } from '#core/db/client.ts'
import { checkLease, type HeldLease } from '#core/jobs/lease-fence.ts'
import type { Logger } from '#core/log.ts'
import { failureToStep, type RetryStep, type UpstreamFailure } from '#core/upstreams/failure.ts'
import type { JiraClient } from '#core/upstreams/jira/client.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import { ANONYMISED_ACCOUNT_ID, type TempoWorklog } from '#core/upstreams/tempo/client.ts'
import { findIssueKeys, type IssueKeyEntry, saveIssueKeys } from '#pipelines/jira/issue-map.ts'
import {
  ANONYMISED_AUTHOR,
  AUTHOR_FALLBACK,
  projectKeyOf,
  type ResolvedWorklog,
  tempoVectorId,
  toTempoDocument,
  toWorklogRow,
} from './document.ts'
import { findUsers, saveUsers } from './jira-cache.ts'
import {
  deleteWorklogs,
  type StoredWorklog,
  storedWorklogs,
  touchWorklogs,
  upsertWorklogs,
} from './worklogs-table.ts'

/**
 * Writes pages of Tempo worklogs to both stores: issue ids → keys and account ids → names through
 * Jira (one batched call per page for what is not known yet), then `tempo_worklogs` and Pinecone.
 * An issue's key is taken from `jira_issue_keys` only when Jira named it since the attempt began
 * (to this pipeline or to the Jira pipeline), so no key Jira changed before the attempt (a renamed
 * project, an issue moved to another project) is ever written; names are cached for a week. Rows
 * go first and vectors second, and deletes the other way round, so a vector never outlives the row
 * that lets a later scan find it. Rows only move forward in Tempo's `updatedAt`, and only a worklog
 * whose row holds this version has its vector written; afterwards the rows are read back, and a
 * vector a newer writer may have been overtaken by is written again from the row
 * (docs/ARCHITECTURE.md, "Pipelines").
 */

/**
 * How a page went. `written`: in both stores; `unresolved`: Jira does not know the issue (reported
 * as failed items, kept in the stores if already there); `skipped`: of a project the job leaves
 * out (kept if stored: Tempo still has it).
 */
export type PageOutcome =
  | { kind: 'written'; written: string[]; unresolved: string[]; skipped: string[] }
  | RetryStep

/** Which projects a chunk keeps, by Jira id (null: all). */
export type ProjectFilter = { ids: ReadonlySet<string> | null }

/** What the page writer uses: the database, the log, and the Jira and Pinecone clients. */
export type WorklogWriterDeps = {
  db: Database
  log: Logger
  jira: Pick<JiraClient, 'issueKeysByIds' | 'usersByAccountIds'>
  pinecone: Pick<PineconeSink, 'upsertDocuments' | 'deleteIds'>
  /** How long cached Jira user names are used, in seconds. */
  cacheMaxAgeSeconds: number
}

const LOGGED_IDS = 20
// Rounds of "read back, write again" before a page leaves the rest to the next scan.
const REPAIR_ROUNDS = 3

/**
 * An attempt's hold: its lease, its abort signal and when it began (database time): issue keys Jira
 * named before then are asked again.
 */
export type Held = { lease: HeldLease; signal: AbortSignal; keysSince: Date }

/**
 * The page writer of the Tempo job kinds. Its calls take the attempt's hold: the chunk's lease
 * (every database write checks it; `LeaseLostError` ends the attempt), its abort signal (passed on
 * to Jira and Pinecone) and its start. A transient upstream failure becomes a retry; any other
 * fails the chunk.
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

  // Keys Jira named since the attempt began: an issue moved to another project keeps its
  // project's key fitting its own, so no test on a cached entry could tell it is stale; only
  // Jira's answer can. A page's issues are asked once per attempt, later pages reuse the answer.
  const issueKeys = (issueIds: string[], held: Held) =>
    readThrough<IssueKeyEntry>(
      issueIds,
      {
        find: (ids) => findIssueKeys(deps.db, ids, held.keysSince),
        save: (entries) => saveIssueKeys(deps.db, held.lease, entries),
        idOf: (entry) => entry.issueId,
      },
      async (missing) => {
        const looked = await deps.jira.issueKeysByIds(missing, held.signal)
        return looked.ok
          ? {
              ok: true,
              value: looked.value.map(({ id, key, projectKey, projectId }) => ({
                issueId: id,
                issueKey: key,
                projectKey: projectKeyOf(key) ?? projectKey,
                projectId: projectId ?? null,
              })),
            }
          : looked
      },
      held.signal,
    )

  // Anonymised authors are never sent to Jira, which knows no such account.
  const users = (accountIds: string[], held: Held) =>
    readThrough(
      accountIds.filter((id) => id !== ANONYMISED_ACCOUNT_ID),
      {
        find: (ids) => findUsers(deps.db, ids, deps.cacheMaxAgeSeconds),
        save: (entries) => saveUsers(deps.db, entries),
        idOf: (entry) => entry.accountId,
      },
      async (missing) => {
        const looked = await deps.jira.usersByAccountIds(missing, held.signal)
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
      held.signal,
    )

  function authorName(accountId: string, known: string | undefined): string {
    if (accountId === ANONYMISED_ACCOUNT_ID) {
      return ANONYMISED_AUTHOR
    }
    return known ?? AUTHOR_FALLBACK
  }

  // Rows, then the vectors of the rows that hold this version, then the read-back.
  async function store(resolved: ResolvedWorklog[], held: Held): Promise<RetryStep | undefined> {
    let pending = resolved
    for (let round = 0; round < REPAIR_ROUNDS && pending.length > 0; round += 1) {
      const newest = await upsertWorklogs(deps.db, held.lease, pending.map(toWorklogRow))
      const documents = pending.filter((r) => newest.has(r.worklog.id)).map(toTempoDocument)
      const upserted = await deps.pinecone.upsertDocuments(documents, held.signal)
      if (!upserted.ok) {
        return failureToStep(upserted, 'pinecone', held.signal)
      }
      const rows = await storedWorklogs(deps.db, [...newest])
      const overtaken = pending.filter((r) => {
        const row = rows.get(r.worklog.id)
        const ours = r.worklog.updatedAt?.getTime()
        const now = row?.tempoUpdatedAt?.getTime()
        return ours !== undefined && now !== undefined && now > ours
      })
      pending = await fromRows(overtaken.flatMap((r) => rows.get(r.worklog.id) ?? []))
    }
    return undefined
  }

  // A newer version as the rows hold it, ready to be written again (the e-mail from the user cache).
  async function fromRows(rows: StoredWorklog[]): Promise<ResolvedWorklog[]> {
    const emails = await findUsers(
      deps.db,
      rows.map((row) => row.accountId),
      deps.cacheMaxAgeSeconds,
    )
    return rows.map((row) => ({
      worklog: {
        id: row.worklogId,
        issueId: row.issueId,
        accountId: row.accountId,
        authorEmail: null,
        timeSpentSeconds: row.timeSpentSeconds,
        startDate: row.startDate,
        startTime: row.startTime,
        description: row.description,
        updatedAt: row.tempoUpdatedAt,
      },
      issueKey: row.issueKey,
      projectKey: row.projectKey,
      authorName: row.userDisplayName,
      authorEmail: emails.get(row.accountId)?.email ?? null,
    }))
  }

  /**
   * Resolves, filters and writes one page. `malformed` are ids of worklogs Tempo sent that did not
   * parse: kept (marked seen) and reported with the unresolved ones.
   */
  async function write(
    worklogs: readonly TempoWorklog[],
    filter: ProjectFilter,
    held: Held,
    malformed: readonly string[] = [],
  ): Promise<PageOutcome> {
    const keys = await issueKeys([...new Set(worklogs.map((w) => w.issueId))], held)
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
      } else if (filter.ids && !(issue.projectId && filter.ids.has(issue.projectId))) {
        skipped.push(worklog.id)
      } else {
        kept.push({ worklog, issueKey: issue.issueKey, projectKey: issue.projectKey })
      }
    }
    const names = await users([...new Set(kept.map((k) => k.worklog.accountId))], held)
    if (!(names instanceof Map)) {
      return names
    }
    const resolved: ResolvedWorklog[] = kept.map((k) => {
      const user = names.get(k.worklog.accountId)
      return {
        ...k,
        authorName: authorName(k.worklog.accountId, user?.displayName),
        authorEmail: k.worklog.authorEmail ?? user?.email ?? null,
      }
    })
    const stored = await store(resolved, held)
    if (stored) {
      return stored
    }
    // Still in Tempo, so not to be deleted as unseen: Jira may know the issue again later, the
    // project may be covered again, a malformed worklog may be readable again.
    const keep = [...unresolved.map((w) => w.id), ...skipped, ...malformed]
    await touchWorklogs(deps.db, held.lease, keep)
    if (unresolved.length > 0 || malformed.length > 0) {
      deps.log.warn(
        {
          unresolved: unresolved.length,
          malformed: malformed.length,
          worklogIds: [...unresolved.map((w) => w.id), ...malformed].slice(0, LOGGED_IDS),
          issueIds: [...new Set(unresolved.map((w) => w.issueId))].slice(0, LOGGED_IDS),
        },
        'tempo worklogs kept but not written: issue unknown to Jira, or malformed',
      )
    }
    return {
      kind: 'written',
      written: resolved.map((r) => r.worklog.id),
      unresolved: [...unresolved.map((w) => w.id), ...malformed],
      skipped,
    }
  }

  /**
   * Removes worklogs from Pinecone, then from `tempo_worklogs`, under the lease (checked before
   * the vectors go).
   */
  async function remove(
    worklogIds: readonly string[],
    held: Held,
  ): Promise<{ kind: 'removed'; count: number } | RetryStep> {
    if (worklogIds.length === 0) {
      return { kind: 'removed', count: 0 }
    }
    await checkLease(deps.db, held.lease)
    const deleted = await deps.pinecone.deleteIds(worklogIds.map(tempoVectorId), held.signal)
    if (!deleted.ok) {
      return failureToStep(deleted, 'pinecone', held.signal)
    }
    return { kind: 'removed', count: await deleteWorklogs(deps.db, held.lease, worklogIds) }
  }

  return { write, remove }
}

/** Writes and removes pages of worklogs (see `createWorklogWriter`). */
export type WorklogWriter = ReturnType<typeof createWorklogWriter>
