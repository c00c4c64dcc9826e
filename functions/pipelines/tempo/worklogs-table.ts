import { and, asc, between, gt, inArray, lt, notInArray, sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { type HeldLease, leaseHeld, requireLease } from '#core/jobs/lease-fence.ts'
import { tempoWorklogs } from '#db/schema.ts'

/**
 * Queries of `tempo_worklogs`. Every write names the chunk's lease and checks it in the same
 * statement, so a worker that lost its lease writes nothing, and ends the attempt then
 * (`LeaseLostError`) rather than report a refused write as one that found nothing to do; a row's
 * content only moves forward in
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
 * this version (written, or already equal): their vectors may be written.
 * @throws {LeaseLostError} when the lease no longer holds (nothing is written)
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
  // `fence` is read once, so the write and the answer agree; its row comes back even when no
  // worklog row does.
  const result = await db.execute<{
    worklog_id: string | null
    current: boolean
    held: boolean
  }>(sql`
    with fence as (select ${leaseHeld(lease)} as held), v as (
      select * from jsonb_to_recordset(${JSON.stringify(unique.map(record))}::jsonb)
        as v(${sql.raw(shape)})
    ), written as (
      insert into tempo_worklogs as w (worklog_id, ${sql.raw(columns.join(', '))})
      select worklog_id, ${sql.raw(columns.join(', '))} from v where (select held from fence)
      on conflict (worklog_id) do update set ${sql.raw(set)}, updated_at = now()
      returning w.worklog_id, w.tempo_updated_at
    )
    select fence.held, x.worklog_id, coalesce(x.current, false) as current
    from fence left join (
      select written.worklog_id,
        written.tempo_updated_at is not distinct from v.tempo_updated_at as current
      from written join v using (worklog_id)
    ) x on true`)
  requireLease(result.rows[0]?.held)
  return new Set(
    result.rows.flatMap((row) => (row.current && row.worklog_id ? [row.worklog_id] : [])),
  )
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

/**
 * Marks stored worklogs as seen now without changing them (ids not stored are ignored).
 * @throws {LeaseLostError} when the lease no longer holds (nothing is touched)
 */
export async function touchWorklogs(
  db: Database,
  lease: HeldLease,
  worklogIds: readonly string[],
): Promise<void> {
  if (worklogIds.length === 0) {
    return
  }
  const result = await db.execute<{ held: boolean }>(sql`
    with fence as (select ${leaseHeld(lease)} as held), touched as (
      update tempo_worklogs set updated_at = now()
      where worklog_id in (select jsonb_array_elements_text(${JSON.stringify([...new Set(worklogIds)])}::jsonb))
        and (select held from fence)
    )
    select held from fence`)
  requireLease(result.rows[0]?.held)
}

/** Which stored rows of a window a scan that began at `seenBefore` has not seen. */
export type UnseenQuery = {
  /** the window's dates, inclusive (`YYYY-MM-DD`) */
  from: string
  to: string
  /** the project keys (current and former) of the chunk's projects; null: all projects */
  projectKeys: readonly string[] | null
  seenBefore: Date
}

/**
 * Stored worklogs dated `from`..`to` (inclusive) of `projectKeys` (all projects when null), except
 * those of `exceptKeys`, that nothing wrote or touched since `seenBefore`, in `worklog_id` order
 * after `after` (keyset paging, so every row is visited once), at most `limit`.
 */
export async function findUnseenWorklogs(
  db: Database,
  window: UnseenQuery & {
    exceptKeys?: readonly string[]
    after: string | null
    limit: number
  },
): Promise<UnseenWorklog[]> {
  const { from, to, projectKeys, exceptKeys = [], seenBefore, after, limit } = window
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
        exceptKeys.length === 0 ? undefined : notInArray(tempoWorklogs.projectKey, [...exceptKeys]),
      ),
    )
    .orderBy(asc(tempoWorklogs.worklogId))
    .limit(limit)
}

/** One project's part of a window's deletions, for the deletion brake. */
export type DeletionShare = {
  /** the project's Jira id, or the key its rows carry when `projectOfKey` does not know it */
  project: string
  /** every key the project's rows of the window carry (a renamed project's rows carry several) */
  keys: string[]
  /** its rows the scan has not seen (after the check: those Tempo no longer has) */
  gone: number
  /** its rows of the window */
  stored: number
}

/**
 * For the deletion brake: per project, its rows of the window the scan has not seen, and all of its
 * rows of the window. Rows are grouped by project id through `projectOfKey` (every key a project
 * had, current or former → its id), so a renamed project's rows under its old and new keys count
 * as one project's.
 */
export async function deletionShares(
  db: Database,
  window: UnseenQuery & { projectOfKey: ReadonlyMap<string, string> },
): Promise<DeletionShare[]> {
  const { from, to, projectKeys, seenBefore, projectOfKey } = window
  if (projectKeys !== null && projectKeys.length === 0) {
    return []
  }
  const map = JSON.stringify([...projectOfKey].map(([key, project]) => ({ key, project })))
  const keys = projectKeys === null ? null : JSON.stringify(projectKeys)
  // Gone: unseen rows of the chunk's projects (only those were checked with Tempo). Stored: every
  // row of the window of a project with any gone.
  const result = await db.execute<{
    project: string
    keys: string[]
    gone: number
    stored: number
  }>(sql`
    with m as (
      select key, project from jsonb_to_recordset(${map}::jsonb) as m(key text, project text)
    ), rows as (
      select coalesce(m.project, w.project_key) as project, w.project_key,
        w.updated_at < ${seenBefore.toISOString()}::timestamptz
          and (${keys}::jsonb is null
            or w.project_key in (select jsonb_array_elements_text(${keys}::jsonb))) as gone
      from tempo_worklogs w left join m on m.key = w.project_key
      where w.start_date between ${from}::date and ${to}::date
    )
    select project, array_agg(distinct project_key order by project_key) as keys,
      (count(*) filter (where gone))::int as gone, count(*)::int as stored
    from rows group by project having bool_or(gone) order by project`)
  return result.rows.map((row) => ({
    project: row.project,
    keys: row.keys,
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

/**
 * Deletes worklogs by `worklog_id` under the lease; returns how many rows went.
 * @throws {LeaseLostError} when the lease no longer holds (nothing is deleted)
 */
export async function deleteWorklogs(
  db: Database,
  lease: HeldLease,
  worklogIds: readonly string[],
): Promise<number> {
  if (worklogIds.length === 0) {
    return 0
  }
  const result = await db.execute<{ held: boolean; deleted: number }>(sql`
    with fence as (select ${leaseHeld(lease)} as held), deleted as (
      delete from tempo_worklogs
      where worklog_id in (select jsonb_array_elements_text(${JSON.stringify([...new Set(worklogIds)])}::jsonb))
        and (select held from fence)
      returning worklog_id
    )
    select held, (select count(*)::int from deleted) as deleted from fence`)
  requireLease(result.rows[0]?.held)
  return result.rows[0]?.deleted ?? 0
}
