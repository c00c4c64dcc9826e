import { and, asc, between, gt, inArray, lt, sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { tempoWorklogs } from '#db/schema.ts'

/**
 * Queries of `tempo_worklogs`. Every write sets `updated_at` to the database's now(), even when
 * nothing else changed: a window scan notes the time it began, and rows of the window it has not
 * written (or touched) since are the ones Tempo no longer lists (`findUnseenWorklogs`).
 */

/** A worklog as the pipeline stores it (the table's columns minus the generated ones). */
export type WorklogRow = Omit<typeof tempoWorklogs.$inferInsert, 'id' | 'createdAt' | 'updatedAt'>

/** A stored worklog the window scan did not see: what the check with Tempo needs. */
export type UnseenWorklog = { worklogId: string; issueId: string }

/** Inserts or replaces worklogs by `worklog_id`; a repeated id in `rows` keeps the last. */
export async function upsertWorklogs(db: Database, rows: readonly WorklogRow[]): Promise<void> {
  // One row per id: Postgres refuses an upsert that touches the same row twice.
  const unique = [...new Map(rows.map((row) => [row.worklogId, row])).values()]
  if (unique.length === 0) {
    return
  }
  await db
    .insert(tempoWorklogs)
    .values(unique)
    .onConflictDoUpdate({
      target: tempoWorklogs.worklogId,
      set: {
        accountId: sql`excluded.account_id`,
        issueId: sql`excluded.issue_id`,
        issueKey: sql`excluded.issue_key`,
        epicKey: sql`excluded.epic_key`,
        projectKey: sql`excluded.project_key`,
        startDate: sql`excluded.start_date`,
        startTime: sql`excluded.start_time`,
        hours: sql`excluded.hours`,
        timeSpentSeconds: sql`excluded.time_spent_seconds`,
        userDisplayName: sql`excluded.user_display_name`,
        team: sql`excluded.team`,
        description: sql`excluded.description`,
        tempoUpdatedAt: sql`excluded.tempo_updated_at`,
        updatedAt: sql`now()`,
      },
    })
}

/** Marks stored worklogs as seen now without changing them (ids not stored are ignored). */
export async function touchWorklogs(db: Database, worklogIds: readonly string[]): Promise<void> {
  if (worklogIds.length === 0) {
    return
  }
  await db
    .update(tempoWorklogs)
    .set({ updatedAt: sql`now()` })
    .where(inArray(tempoWorklogs.worklogId, [...new Set(worklogIds)]))
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

/** Deletes worklogs by `worklog_id`; returns how many rows went. */
export async function deleteWorklogs(db: Database, worklogIds: readonly string[]): Promise<number> {
  if (worklogIds.length === 0) {
    return 0
  }
  const deleted = await db
    .delete(tempoWorklogs)
    .where(inArray(tempoWorklogs.worklogId, [...new Set(worklogIds)]))
    .returning({ worklogId: tempoWorklogs.worklogId })
  return deleted.length
}
