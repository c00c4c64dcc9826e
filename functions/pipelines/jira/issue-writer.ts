import type { Clock } from '#core/clock.ts'
import type { Database } from '#core/db/client.ts'
import type { HeldLease } from '#core/jobs/lease-fence.ts'
import type { Logger } from '#core/log.ts'
import { failureToStep, type RetryStep } from '#core/upstreams/failure.ts'
import type { JiraClient, JiraIssue, JiraProjectRef } from '#core/upstreams/jira/client.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import { JIRA_FIELDS, parseIssueTime, toJiraDocument } from './document.ts'
import { confirmMoves, recordedVersions, recordWrites } from './issue-map.ts'

/**
 * Writes Jira issues to Pinecone in order (docs/ARCHITECTURE.md, "Pipelines"): each issue's version
 * (`updated`) is recorded in `jira_issue_keys` first, under the chunk's lease, and only the newest
 * version is written, so an older read landing second never overwrites a newer vector; a re-keyed
 * issue moves (the new vector written, then the old one deleted, then the move recorded, so a step
 * that fails in between moves it again when retried). After writing, the versions are
 * read back: an issue a newer writer recorded meanwhile is read again from Jira and written, so
 * whichever write lands last carries the newest version.
 */

/** What the writer needs. */
export type IssueWriterDeps = {
  db: Database
  log: Logger
  clock: Clock
  jira: Pick<JiraClient, 'issuesByIds'>
  pinecone: Pick<PineconeSink, 'upsertDocuments' | 'deleteIds'>
  jiraBaseUrl: string
}

/** The vector id of an issue key: `jira-<KEY>`, as the original system wrote it. */
export function jiraVectorId(key: string): string {
  return `jira-${key}`
}

// Rounds of "read back, read again, write" before a page leaves the rest to the next run.
const REPAIR_ROUNDS = 3

/**
 * Writes `issues` (of `project`) under `lease`; returns how many vectors were written or deleted,
 * or a retry step. Issues of another project are left to that project's chunks.
 * @throws {LeaseLostError} when the lease no longer holds: nothing more is written or deleted
 */
export async function writeIssues(
  deps: IssueWriterDeps,
  context: { project: JiraProjectRef; lease: HeldLease; signal: AbortSignal },
  issues: readonly JiraIssue[],
): Promise<{ written: number } | RetryStep> {
  const { project, lease, signal } = context
  let pending = issues.filter((issue) => (issue.fields?.project?.id ?? project.id) === project.id)
  let written = 0
  for (let round = 0; round < REPAIR_ROUNDS && pending.length > 0; round += 1) {
    const versions = new Map(
      pending.map((issue) => [issue.id, parseIssueTime(issue.fields?.updated)?.ms ?? null]),
    )
    const decisions = await recordWrites(
      deps.db,
      lease,
      pending.map((issue) => ({
        issueId: issue.id,
        issueKey: issue.key,
        projectId: project.id,
        projectKey: project.key,
        updatedMs: versions.get(issue.id) ?? null,
      })),
    )
    const newest = new Set(decisions.filter((d) => d.newest).map((d) => d.issueId))
    const now = deps.clock.now()
    const documents = pending
      .filter((issue) => newest.has(issue.id))
      .map((issue) =>
        toJiraDocument(issue, { project: project.key, jiraBaseUrl: deps.jiraBaseUrl, now }),
      )
    const upserted = await deps.pinecone.upsertDocuments(documents, signal)
    if (!upserted.ok) {
      return failureToStep(upserted, 'pinecone', signal)
    }
    written += upserted.written
    const keyOf = new Map(pending.map((issue) => [issue.id, issue.key]))
    const moves = decisions.flatMap((d) =>
      d.movedFrom
        ? [{ issueId: d.issueId, from: d.movedFrom, to: keyOf.get(d.issueId) ?? '' }]
        : [],
    )
    if (moves.length > 0) {
      const moved = moves.map((move) => jiraVectorId(move.from))
      const deleted = await deps.pinecone.deleteIds(moved, signal)
      if (!deleted.ok) {
        return failureToStep(deleted, 'pinecone', signal)
      }
      // Only now does the record forget the former key: a retry before this moves it again.
      await confirmMoves(deps.db, lease, moves)
      written += moved.length
      deps.log.info(
        { project: project.key, moved: moved.length, ids: moved.slice(0, 20) },
        'jira issues re-keyed: vectors moved',
      )
    }
    // Read back: an issue whose recorded version is now newer than ours was written by another
    // worker meanwhile, perhaps before our write landed. Read it again and write it once more.
    const recorded = await recordedVersions(deps.db, [...newest])
    const overtaken = [...newest].filter((id) => {
      const ours = versions.get(id) ?? null
      const now = recorded.get(id) ?? null
      return ours !== null && now !== null && now > ours
    })
    if (overtaken.length === 0) {
      return { written }
    }
    const again = await deps.jira.issuesByIds(overtaken, JIRA_FIELDS, signal)
    if (!again.ok) {
      return failureToStep(again, 'jira', signal)
    }
    pending = again.value.filter((issue) => issue.fields?.project?.id === project.id)
  }
  if (pending.length > 0) {
    deps.log.warn(
      { project: project.key, issues: pending.length },
      'jira issues kept changing while written; the next run writes them again',
    )
  }
  return { written }
}
