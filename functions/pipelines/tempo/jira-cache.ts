import { and, gt, inArray, sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { jiraUsers } from '#db/schema.ts'

/**
 * The cache of Jira's user lookups the Tempo pipeline makes (account id → name). Only answers Jira
 * gave are stored: a failed or empty lookup is never cached, so it is asked again. Entries older
 * than `maxAgeSeconds` (database time) count as missing and are looked up anew, which picks up
 * renamed people. Issue keys are not cached by age: see `findIssueKeys` in
 * pipelines/jira/issue-map.ts, the one module of `jira_issue_keys`.
 */

/** Jira's answer for one account id; `email` only when Jira shared one. */
export type CachedUser = { accountId: string; displayName: string; email: string | null }

/** How old a cached name may be and still be used, in seconds (default: a week). */
export const DEFAULT_CACHE_MAX_AGE_SECONDS = 7 * 86_400

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)]
}

function freshSince(maxAgeSeconds: number) {
  return sql`now() - make_interval(secs => ${maxAgeSeconds})`
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
