import { and, asc, between, gt, inArray, lt, sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { type HeldLease, leaseHeld } from '#core/jobs/lease-fence.ts'
import { tempoWorklogs } from '#db/schema.ts'

/**
 * Queries of `tempo_worklogs`. Every write names the chunk's lease and checks it in the same
 * statement, so a worker that lost its lease writes nothing; a row's content only moves forward in
 * Tempo's `updatedAt` (docs/ARCHITECTURE.md, "Pipelines"). Every write sets `updated_at` to the
 * database's now(), even when the content stays: a window scan notes the time it began, and rows of
 * the window it has not written (or touched) since are the ones Tempo no longer lists
 * (`findUnseenWorklogs`).
 */

/** A worklog as the pipeline stores it (the table's columns minus the generated ones). */
export type WorklogRow = Omit<typeof tempoWorklogs.$inferInsert, 'id' | 'createdAt' | 'updatedAt'>

/** A stored worklog the window scan did not see: what the check with Tempo needs. */
export type UnseenWorklog = { worklogId: string; issueId: string }

/** A stored worklog as read back (`tempo_updated_at` decides which version is newer). */
export type StoredWorklog = typeof tempoWorklogs.$inferSelect

// The content columns, in the order of the JSON records below.
const CONTENT = [
  ['account_id', 'text'],
  ['issue_id', 'text'],
  ['issue_key', 'text'],
  ['epic_key', 'text'],
  ['project_key', 'text'],
  ['start_date', 'date'],
  ['start_time', 'text'],
  ['hours', 'float8'],
  ['time_spent_seconds', 'integer'],
  ['user_display_name', 'text'],
  ['team', 'text'],
  ['description', 'text'],
  ['tempo_updated_at', 'timestamptz'],
] as const

function record(row: WorklogRow): Record<string, unknown> {
  return {
    worklog_id: row.worklogId,
    account_id: row.accountId,
    issue_id: row.issueId,
    issue_key: row.issueKey,
    epic_key: row.epicKey ?? null,
    project_key: row.projectKey,
    start_date: row.startDate,
    start_time: row.startTime ?? null,
    hours: row.hours,
    time_spent_seconds: row.timeSpentSeconds,
    user_display_name: row.userDisplayName,
    team: row.team ?? null,
    description: row.description ?? '',
    tempo_updated_at: row.tempoUpdatedAt ? new Date(row.tempoUpdatedAt).toISOString() : null,
  }
}

/**
 * Inserts worklogs, or replaces stored ones unless they are newer in Tempo's `updatedAt` (an older
 * read never wins); either way the row counts as seen now. Returns the ids whose content is now
 * this version (written, or already equal): their vectors may be written. Nothing is written
 * without the lease.
 */
export async function upsertWorklogs(
  db: Database,
  lease: HeldLease,
  rows: readonly WorklogRow[],
): Promise<Set<string>> {
  // One row per id: Postgres refuses an upsert that touches the same row twice.
  const unique = [...new Map(rows.map((row) => [row.worklogId, row])).values()]
  if (unique.length === 0) {
    return new Set()
  }
  const columns = CONTENT.map(([name]) => name)
  const forward =
    'w.tempo_updated_at is null or excluded.tempo_updated_at is null or excluded.tempo_updated_at >= w.tempo_updated_at'
  const set = columns
    .map((name) => `${name} = case when ${forward} then excluded.${name} else w.${name} end`)
    .join(', ')
  const shape = ['worklog_id text', ...CONTENT.map(([name, type]) => `${name} ${type}`)].join(', ')
  const result = await db.execute<{ worklog_id: string; current: boolean }>(sql`
    with v as (
      select * from jsonb_to_recordset(${JSON.stringify(unique.map(record))}::jsonb)
        as v(${sql.raw(shape)})
    ), written as (
      insert into tempo_worklogs as w (worklog_id, ${sql.raw(columns.join(', '))})
      select worklog_id, ${sql.raw(columns.join(', '))} from v where ${leaseHeld(lease)}
      on conflict (worklog_id) do update set ${sql.raw(set)}, updated_at = now()
      returning w.worklog_id, w.tempo_updated_at
    )
    select written.worklog_id,
      written.tempo_updated_at is not distinct from v.tempo_updated_at as current
    from written join v using (worklog_id)`)
  return new Set(result.rows.filter((row) => row.current).map((row) => row.worklog_id))
}

/** The stored rows of these worklog ids, by id. */
export async function storedWorklogs(
  db: Database,
  worklogIds: readonly string[],
): Promise<Map<string, StoredWorklog>> {
  if (worklogIds.length === 0) {
    return new Map()
  }
  const rows = await db
    .select()
    .from(tempoWorklogs)
    .where(inArray(tempoWorklogs.worklogId, [...new Set(worklogIds)]))
  return new Map(rows.map((row) => [row.worklogId, row]))
}

/** Marks stored worklogs as seen now without changing them (ids not stored are ignored). */
export async function touchWorklogs(
  db: Database,
  lease: HeldLease,
  worklogIds: readonly string[],
): Promise<void> {
  if (worklogIds.length === 0) {
    return
  }
  await db
    .update(tempoWorklogs)
    .set({ updatedAt: sql`now()` })
    .where(and(inArray(tempoWorklogs.worklogId, [...new Set(worklogIds)]), leaseHeld(lease)))
}

/**
 * Stored worklogs dated `from`..`to` (inclusive) of `projectKeys` (all projects when null) that
 * nothing wrote or touched since `seenBefore`, in `worklog_id` order after `after` (keyset paging,
 * so every row is visited once), at most `limit`.
 */
export async function findUnseenWorklogs(
  db: Database,
  window: {
    from: string
    to: string
    projectKeys: readonly string[] | null
    seenBefore: Date
    after: string | null
    limit: number
  },
): Promise<UnseenWorklog[]> {
  const { from, to, projectKeys, seenBefore, after, limit } = window
  if (projectKeys !== null && projectKeys.length === 0) {
    return []
  }
  return db
    .select({ worklogId: tempoWorklogs.worklogId, issueId: tempoWorklogs.issueId })
    .from(tempoWorklogs)
    .where(
      and(
        between(tempoWorklogs.startDate, from, to),
        lt(tempoWorklogs.updatedAt, seenBefore),
        after === null ? undefined : gt(tempoWorklogs.worklogId, after),
        projectKeys === null ? undefined : inArray(tempoWorklogs.projectKey, [...projectKeys]),
      ),
    )
    .orderBy(asc(tempoWorklogs.worklogId))
    .limit(limit)
}

/**
 * For the deletion brake: per project key, how many of `worklogIds` are stored, and how many rows
 * the project has dated `from`..`to`.
 */
export async function deletionShares(
  db: Database,
  worklogIds: readonly string[],
  window: { from: string; to: string },
): Promise<Array<{ projectKey: string; gone: number; stored: number }>> {
  if (worklogIds.length === 0) {
    return []
  }
  const result = await db.execute<{ project_key: string; gone: number; stored: number }>(sql`
    with gone as (
      select project_key, count(*)::int as gone from tempo_worklogs
      where worklog_id in (select jsonb_array_elements_text(${JSON.stringify([...new Set(worklogIds)])}::jsonb))
      group by project_key
    )
    select gone.project_key, gone.gone, (
      select count(*)::int from tempo_worklogs w
      where w.project_key = gone.project_key and w.start_date between ${window.from} and ${window.to}
    ) as stored
    from gone order by gone.project_key`)
  return result.rows.map((row) => ({
    projectKey: row.project_key,
    gone: row.gone,
    stored: row.stored,
  }))
}

/** The project key of each of these stored worklogs, by worklog id. */
export async function projectKeysOfWorklogs(
  db: Database,
  worklogIds: readonly string[],
): Promise<Map<string, string>> {
  if (worklogIds.length === 0) {
    return new Map()
  }
  const rows = await db
    .select({ worklogId: tempoWorklogs.worklogId, projectKey: tempoWorklogs.projectKey })
    .from(tempoWorklogs)
    .where(inArray(tempoWorklogs.worklogId, [...new Set(worklogIds)]))
  return new Map(rows.map((row) => [row.worklogId, row.projectKey]))
}

/** Deletes worklogs by `worklog_id` under the lease; returns how many rows went. */
export async function deleteWorklogs(
  db: Database,
  lease: HeldLease,
  worklogIds: readonly string[],
): Promise<number> {
  if (worklogIds.length === 0) {
    return 0
  }
  const deleted = await db
    .delete(tempoWorklogs)
    .where(and(inArray(tempoWorklogs.worklogId, [...new Set(worklogIds)]), leaseHeld(lease)))
    .returning({ worklogId: tempoWorklogs.worklogId })
  return deleted.length
}
