import { sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { type HeldLease, leaseHeld } from '#core/jobs/lease-fence.ts'

/**
 * The Jira pipeline's side of `jira_issue_keys`: which key each issue id has now, and under which
 * key and at which `updated` its vector was written (docs/ARCHITECTURE.md, "Pipelines"). Every write
 * checks the chunk's lease in the same statement, so a worker that lost it writes nothing.
 */

/** An issue as written to Pinecone: its ids, its key now, and its `updated` (epoch ms, if known). */
export type WrittenIssue = {
  issueId: string
  issueKey: string
  projectId: string
  projectKey: string
  updatedMs: number | null
}

/** What recording a written issue found. */
export type WriteDecision = {
  issueId: string
  /** This version is the newest known (or as new): its vector may be written. */
  newest: boolean
  /** The key its vector was written under before, when that differs from its key now. */
  movedFrom: string | null
}

/**
 * Records that these issues' vectors are about to be written, unless a newer version (a later
 * `updated`) was recorded already: then `newest` is false and nothing changes. Nothing is recorded
 * without the lease (every decision then says `newest: false`).
 */
export async function recordWrites(
  db: Database,
  lease: HeldLease,
  issues: readonly WrittenIssue[],
): Promise<WriteDecision[]> {
  const unique = [...new Map(issues.map((issue) => [issue.issueId, issue])).values()]
  if (unique.length === 0) {
    return []
  }
  const input = JSON.stringify(
    unique.map((i) => ({
      issue_id: i.issueId,
      issue_key: i.issueKey,
      project_id: i.projectId,
      project_key: i.projectKey,
      updated_ms: i.updatedMs,
    })),
  )
  // An older or equal version never replaces a newer one; the row's values after the statement
  // say whether ours is in it.
  const result = await db.execute<{
    issue_id: string
    newest: boolean
    previous_key: string | null
  }>(sql`
    with v as (
      select * from jsonb_to_recordset(${input}::jsonb)
        as v(issue_id text, issue_key text, project_id text, project_key text, updated_ms bigint)
    ), prev as (
      select k.issue_id, k.vector_key from jira_issue_keys k join v using (issue_id)
    ), written as (
      insert into jira_issue_keys as k
        (issue_id, issue_key, project_id, project_key, vector_key, vector_updated_ms)
      select issue_id, issue_key, project_id, project_key, issue_key, updated_ms from v
      where ${leaseHeld(lease)}
      on conflict (issue_id) do update set
        issue_key = excluded.issue_key, project_id = excluded.project_id,
        project_key = excluded.project_key, vector_key = excluded.vector_key,
        vector_updated_ms = excluded.vector_updated_ms, updated_at = now()
      where k.vector_updated_ms is null or excluded.vector_updated_ms is null
        or excluded.vector_updated_ms >= k.vector_updated_ms
      returning k.issue_id, k.vector_key, k.vector_updated_ms
    )
    select v.issue_id,
      (w.issue_id is not null) as newest,
      case when p.vector_key is distinct from v.issue_key then p.vector_key end as previous_key
    from v left join written w using (issue_id) left join prev p using (issue_id)`)
  return result.rows.map((row) => ({
    issueId: row.issue_id,
    newest: row.newest,
    movedFrom: row.newest ? row.previous_key : null,
  }))
}

/** The `updated` (epoch ms) each issue's vector was last recorded at, by issue id. */
export async function recordedVersions(
  db: Database,
  issueIds: readonly string[],
): Promise<Map<string, number | null>> {
  if (issueIds.length === 0) {
    return new Map()
  }
  const result = await db.execute<{ issue_id: string; vector_updated_ms: string | null }>(sql`
    select issue_id, vector_updated_ms from jira_issue_keys
    where issue_id in (select jsonb_array_elements_text(${JSON.stringify([...new Set(issueIds)])}::jsonb))`)
  return new Map(
    result.rows.map((row) => [
      row.issue_id,
      row.vector_updated_ms === null ? null : Number(row.vector_updated_ms),
    ]),
  )
}

/** Records the keys a complete scan of a project saw now (their `updated_at` becomes now()). */
export async function recordSeen(
  db: Database,
  lease: HeldLease,
  issues: ReadonlyArray<{
    issueId: string
    issueKey: string
    projectId: string
    projectKey: string
  }>,
): Promise<void> {
  const unique = [...new Map(issues.map((issue) => [issue.issueId, issue])).values()]
  if (unique.length === 0) {
    return
  }
  const input = JSON.stringify(
    unique.map((i) => ({
      issue_id: i.issueId,
      issue_key: i.issueKey,
      project_id: i.projectId,
      project_key: i.projectKey,
    })),
  )
  await db.execute(sql`
    insert into jira_issue_keys as k (issue_id, issue_key, project_id, project_key)
    select issue_id, issue_key, project_id, project_key
    from jsonb_to_recordset(${input}::jsonb)
      as v(issue_id text, issue_key text, project_id text, project_key text)
    where ${leaseHeld(lease)}
    on conflict (issue_id) do update set issue_key = excluded.issue_key,
      project_id = excluded.project_id, project_key = excluded.project_key, updated_at = now()`)
}

/** The keys among `keys` that Jira named (in any search or scan) at or after `since`. */
export async function keysSeenSince(
  db: Database,
  keys: readonly string[],
  since: Date,
): Promise<Set<string>> {
  if (keys.length === 0) {
    return new Set()
  }
  const result = await db.execute<{ issue_key: string }>(sql`
    select issue_key from jira_issue_keys
    where issue_key in (select jsonb_array_elements_text(${JSON.stringify([...new Set(keys)])}::jsonb))
      and updated_at >= ${since.toISOString()}::timestamptz`)
  return new Set(result.rows.map((row) => row.issue_key))
}
