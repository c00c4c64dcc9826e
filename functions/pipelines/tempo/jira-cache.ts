import { and, gt, inArray, sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { type HeldLease, leaseHeld } from '#core/jobs/lease-fence.ts'
import { jiraIssueKeys, jiraUsers } from '#db/schema.ts'

/**
 * Caches of Jira lookups the Tempo pipeline makes (issue id → key, account id → name). Only
 * answers Jira gave are stored: a failed or empty lookup is never cached, so it is asked again.
 * Entries older than `maxAgeSeconds` (database time) count as missing and are looked up anew,
 * which picks up moved issues and renamed people; the writer also drops an entry whose key no
 * longer fits its project's key now (a renamed project). Issue keys share `jira_issue_keys` with
 * the Jira pipeline, which keeps them current for the issues it writes.
 */

/** Jira's answer for one issue id (`projectId` null in entries written before ids were kept). */
export type CachedIssueKey = {
  issueId: string
  issueKey: string
  projectKey: string
  projectId: string | null
}

/** Jira's answer for one account id; `email` only when Jira shared one. */
export type CachedUser = { accountId: string; displayName: string; email: string | null }

/** How old a cache entry may be and still be used, in seconds (default: a week). */
export const DEFAULT_CACHE_MAX_AGE_SECONDS = 7 * 86_400

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)]
}

function freshSince(maxAgeSeconds: number) {
  return sql`now() - make_interval(secs => ${maxAgeSeconds})`
}

/** The cached keys of these issue ids that are younger than `maxAgeSeconds`, by issue id. */
export async function findIssueKeys(
  db: Database,
  issueIds: readonly string[],
  maxAgeSeconds = DEFAULT_CACHE_MAX_AGE_SECONDS,
): Promise<Map<string, CachedIssueKey>> {
  const ids = unique(issueIds)
  if (ids.length === 0) {
    return new Map()
  }
  const rows = await db
    .select({
      issueId: jiraIssueKeys.issueId,
      issueKey: jiraIssueKeys.issueKey,
      projectKey: jiraIssueKeys.projectKey,
      projectId: jiraIssueKeys.projectId,
    })
    .from(jiraIssueKeys)
    .where(
      and(
        inArray(jiraIssueKeys.issueId, ids),
        gt(jiraIssueKeys.updatedAt, freshSince(maxAgeSeconds)),
      ),
    )
  return new Map(rows.map((row) => [row.issueId, row]))
}

/** Stores Jira's answers (replacing older ones for the same ids) under the chunk's lease. */
export async function saveIssueKeys(
  db: Database,
  lease: HeldLease,
  entries: readonly CachedIssueKey[],
): Promise<void> {
  // One row per id: Postgres refuses an upsert that touches the same row twice.
  const rows = [...new Map(entries.map((entry) => [entry.issueId, entry])).values()]
  if (rows.length === 0) {
    return
  }
  const input = JSON.stringify(
    rows.map((row) => ({
      issue_id: row.issueId,
      issue_key: row.issueKey,
      project_key: row.projectKey,
      project_id: row.projectId,
    })),
  )
  await db.execute(sql`
    insert into jira_issue_keys as k (issue_id, issue_key, project_key, project_id)
    select issue_id, issue_key, project_key, project_id from jsonb_to_recordset(${input}::jsonb)
      as v(issue_id text, issue_key text, project_key text, project_id text)
    where ${leaseHeld(lease)}
    on conflict (issue_id) do update set issue_key = excluded.issue_key,
      project_key = excluded.project_key, project_id = excluded.project_id, updated_at = now()`)
}

/** The cached users of these account ids that are younger than `maxAgeSeconds`, by account id. */
export async function findUsers(
  db: Database,
  accountIds: readonly string[],
  maxAgeSeconds = DEFAULT_CACHE_MAX_AGE_SECONDS,
): Promise<Map<string, CachedUser>> {
  const ids = unique(accountIds)
  if (ids.length === 0) {
    return new Map()
  }
  const rows = await db
    .select({
      accountId: jiraUsers.accountId,
      displayName: jiraUsers.displayName,
      email: jiraUsers.email,
    })
    .from(jiraUsers)
    .where(
      and(inArray(jiraUsers.accountId, ids), gt(jiraUsers.updatedAt, freshSince(maxAgeSeconds))),
    )
  return new Map(rows.map((row) => [row.accountId, row]))
}

/** Stores Jira's answers (replacing older ones for the same account ids). */
export async function saveUsers(db: Database, entries: readonly CachedUser[]): Promise<void> {
  const rows = [...new Map(entries.map((entry) => [entry.accountId, entry])).values()]
  if (rows.length === 0) {
    return
  }
  await db
    .insert(jiraUsers)
    .values(rows)
    .onConflictDoUpdate({
      target: jiraUsers.accountId,
      set: {
        displayName: sql`excluded.display_name`,
        email: sql`excluded.email`,
        updatedAt: sql`now()`,
      },
    })
}
