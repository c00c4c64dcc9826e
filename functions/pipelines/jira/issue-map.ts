import { sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { type HeldLease, leaseHeld, requireLease } from '#core/jobs/lease-fence.ts'

/**
 * Queries of `jira_issue_keys`, for both pipelines: which key and project each issue id has now (as
 * Jira last named it, in a search, a key scan or a lookup), and under which key and at which
 * `updated` the issue's vector was written (docs/ARCHITECTURE.md, "Pipelines"). Every write checks
 * the chunk's lease in the same statement and ends the attempt when it no longer holds
 * (`LeaseLostError`), so a worker that lost it writes nothing and never mistakes a refused write
 * for an older version.
 */

/** An issue as Jira names it now (`projectId` null in entries written before ids were kept). */
export type IssueKeyEntry = {
  issueId: string
  issueKey: string
  projectKey: string
  projectId: string | null
}

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
  /**
   * The key of a vector still to delete (written under a key the issue no longer has), when it
   * differs from the key now; kept until `confirmMoves` records the deletion.
   */
  movedFrom: string | null
}

/** A moved issue whose vector under `from` was deleted, its vector now being under `to`. */
export type ConfirmedMove = { issueId: string; from: string; to: string }

/**
 * Records that these issues' vectors are about to be written, unless a newer version (a later
 * `updated`) was recorded already: then `newest` is false and nothing changes. A vector written
 * under another key stays recorded (`vector_key`) until its deletion is confirmed, so a step that
 * fails between the write and the delete moves it again when retried.
 * @throws {LeaseLostError} when the lease no longer holds (nothing is recorded)
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
  // say whether ours is in it. `fence` is read once, so the write and the answer agree. Rows are
  // taken in id order, as by every writer, so two writes of overlapping pages (a page's write
  // runs beside the next page's) cannot deadlock on each other's rows.
  const result = await db.execute<{
    issue_id: string
    held: boolean
    newest: boolean
    previous_key: string | null
  }>(sql`
    with fence as (select ${leaseHeld(lease)} as held), v as (
      select * from jsonb_to_recordset(${input}::jsonb)
        as v(issue_id text, issue_key text, project_id text, project_key text, updated_ms bigint)
    ), prev as (
      select k.issue_id, k.vector_key from jira_issue_keys k join v using (issue_id)
    ), written as (
      insert into jira_issue_keys as k
        (issue_id, issue_key, project_id, project_key, vector_key, vector_updated_ms)
      select issue_id, issue_key, project_id, project_key, issue_key, updated_ms from v
      where (select held from fence)
      order by issue_id
      on conflict (issue_id) do update set
        issue_key = excluded.issue_key, project_id = excluded.project_id,
        project_key = excluded.project_key, vector_key = coalesce(k.vector_key, excluded.vector_key),
        vector_updated_ms = excluded.vector_updated_ms, updated_at = now()
      where k.vector_updated_ms is null or excluded.vector_updated_ms is null
        or excluded.vector_updated_ms >= k.vector_updated_ms
      returning k.issue_id
    )
    select v.issue_id, (select held from fence) as held,
      (w.issue_id is not null) as newest,
      case when p.vector_key is distinct from v.issue_key then p.vector_key end as previous_key
    from v left join written w using (issue_id) left join prev p using (issue_id)`)
  requireLease(result.rows[0]?.held)
  return result.rows.map((row) => ({
    issueId: row.issue_id,
    newest: row.newest,
    movedFrom: row.newest ? row.previous_key : null,
  }))
}

/**
 * Records that moved issues' vectors under their former keys are deleted: each one's `vector_key`
 * becomes `to`, unless another writer recorded a move of its own meanwhile (the key is no longer
 * `from`; that writer confirms it, and the reconcile removes what is left over).
 * @throws {LeaseLostError} when the lease no longer holds
 */
export async function confirmMoves(
  db: Database,
  lease: HeldLease,
  moves: readonly ConfirmedMove[],
): Promise<void> {
  if (moves.length === 0) {
    return
  }
  const input = JSON.stringify(moves.map((m) => ({ issue_id: m.issueId, from: m.from, to: m.to })))
  const result = await db.execute<{ held: boolean }>(sql`
    with fence as (select ${leaseHeld(lease)} as held), moved as (
      update jira_issue_keys k set vector_key = m.to
      from jsonb_to_recordset(${input}::jsonb) as m(issue_id text, "from" text, "to" text)
      where k.issue_id = m.issue_id and k.vector_key = m.from and (select held from fence)
    )
    select held from fence`)
  requireLease(result.rows[0]?.held)
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

/**
 * Stores what Jira named now (a key scan's page, a lookup by id): each issue's key and project,
 * replacing older answers (their `updated_at` becomes now()). Vectors' keys and versions stay.
 * @throws {LeaseLostError} when the lease no longer holds (nothing is stored)
 */
export async function saveIssueKeys(
  db: Database,
  lease: HeldLease,
  entries: readonly IssueKeyEntry[],
): Promise<void> {
  // One row per id: Postgres refuses an upsert that touches the same row twice.
  const unique = [...new Map(entries.map((entry) => [entry.issueId, entry])).values()]
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
  const result = await db.execute<{ held: boolean }>(sql`
    with fence as (select ${leaseHeld(lease)} as held), saved as (
      insert into jira_issue_keys as k (issue_id, issue_key, project_id, project_key)
      select issue_id, issue_key, project_id, project_key
      from jsonb_to_recordset(${input}::jsonb)
        as v(issue_id text, issue_key text, project_id text, project_key text)
      where (select held from fence)
      order by issue_id -- the order every writer takes rows in (recordWrites)
      on conflict (issue_id) do update set issue_key = excluded.issue_key,
        project_id = excluded.project_id, project_key = excluded.project_key, updated_at = now()
    )
    select held from fence`)
  requireLease(result.rows[0]?.held)
}

/** The entries of these issue ids that Jira named at or after `since` (database time), by id. */
export async function findIssueKeys(
  db: Database,
  issueIds: readonly string[],
  since: Date,
): Promise<Map<string, IssueKeyEntry>> {
  const ids = [...new Set(issueIds)]
  if (ids.length === 0) {
    return new Map()
  }
  const result = await db.execute<{
    issue_id: string
    issue_key: string
    project_key: string
    project_id: string | null
  }>(sql`
    select issue_id, issue_key, project_key, project_id from jira_issue_keys
    where issue_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
      and updated_at >= ${since.toISOString()}::timestamptz`)
  return new Map(
    result.rows.map((row) => [
      row.issue_id,
      {
        issueId: row.issue_id,
        issueKey: row.issue_key,
        projectKey: row.project_key,
        projectId: row.project_id,
      },
    ]),
  )
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
