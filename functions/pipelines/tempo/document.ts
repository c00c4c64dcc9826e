import type { PineconeDocument } from '#core/upstreams/pinecone/client.ts'
import { truncateText } from '#core/upstreams/pinecone/metadata.ts'
import type { TempoWorklog } from '#core/upstreams/tempo/client.ts'
import type { WorklogRow } from './worklogs-table.ts'

/**
 * What a Tempo worklog becomes: a row of `tempo_worklogs` and a Pinecone document with the id,
 * text template and metadata of the original system (original-system §4.2), which the search
 * side reads. Pure, so the templates are tested without a server.
 */

/** A worklog with what Jira told us about it. */
export type ResolvedWorklog = {
  worklog: TempoWorklog
  /** from Jira by issue id, never from the description */
  issueKey: string
  projectKey: string
  /** Jira's display name; `AUTHOR_FALLBACK` when Jira does not know the account */
  authorName: string
  authorEmail: string | null
}

/** The author name used when Jira has none: Pinecone refuses nulls (original defect 23). */
export const AUTHOR_FALLBACK = 'Unknown'
/** The author name of a GDPR-anonymised Tempo author (never looked up in Jira). */
export const ANONYMISED_AUTHOR = 'Anonymised user'
/** Characters of the description kept in metadata (the full text stays in Postgres). */
export const DESCRIPTION_MAX_CHARS = 2000
/** Characters of the text sent for embedding (the original's cut). */
export const TEXT_MAX_CHARS = 8000
const TITLE_MAX_CHARS = 500
const PREVIEW_MAX_CHARS = 1000

/** The vector id of a worklog: `tempo-<tempoWorklogId>`, as readers expect. */
export function tempoVectorId(worklogId: string): string {
  return `tempo-${worklogId}`
}

// Hours as a float, from Tempo's seconds.
function hoursOf(timeSpentSeconds: number): number {
  return timeSpentSeconds / 3600
}

/** The project key of an issue key: the text before the first `-`. */
export function projectKeyOf(issueKey: string): string | undefined {
  const dash = issueKey.indexOf('-')
  return dash > 0 ? issueKey.slice(0, dash) : undefined
}

/** `startDate` + `T` + `startTime`, no zone (UTC in practice); midnight when Tempo sent no time. */
function timestampOf(worklog: TempoWorklog): string {
  return `${worklog.startDate}T${worklog.startTime ?? '00:00:00'}`
}

/** The row stored in `tempo_worklogs`. */
export function toWorklogRow(resolved: ResolvedWorklog): WorklogRow {
  const { worklog } = resolved
  return {
    worklogId: worklog.id,
    accountId: worklog.accountId,
    issueId: worklog.issueId,
    issueKey: resolved.issueKey,
    epicKey: null,
    projectKey: resolved.projectKey,
    startDate: worklog.startDate,
    startTime: worklog.startTime,
    hours: hoursOf(worklog.timeSpentSeconds),
    timeSpentSeconds: worklog.timeSpentSeconds,
    userDisplayName: resolved.authorName,
    team: null,
    description: worklog.description,
    tempoUpdatedAt: worklog.updatedAt,
  }
}

/**
 * The Pinecone document of a worklog:
 * text `[KEY] Time Entry - NAME logged H.H hours on DATE: DESCRIPTION` (no `: …` without one),
 * title `KEY: H.Hh by NAME`, and the original's metadata keys with no null values.
 * @example toTempoDocument(resolved).id // 'tempo-4711'
 */
export function toTempoDocument(resolved: ResolvedWorklog): PineconeDocument {
  const { worklog, issueKey, projectKey, authorName } = resolved
  const hours = hoursOf(worklog.timeSpentSeconds)
  const shown = hours.toFixed(1)
  const description = worklog.description
  const text = truncateText(
    `[${issueKey}] Time Entry - ${authorName} logged ${shown} hours on ${worklog.startDate}` +
      (description ? `: ${description}` : ''),
    TEXT_MAX_CHARS,
  )
  const timestamp = timestampOf(worklog)
  const metadata: PineconeDocument['metadata'] = {
    worklog_id: Number(worklog.id),
    issue_key: issueKey,
    project_key: projectKey,
    author_account_id: worklog.accountId,
    author_name: authorName,
    hours_logged: hours,
    worklog_date: worklog.startDate,
    timestamp,
    timestamp_epoch: Math.floor(Date.parse(`${timestamp}Z`) / 1000),
    date: worklog.startDate,
    description: truncateText(description, DESCRIPTION_MAX_CHARS),
    access_type: 'all',
    source: 'tempo',
    title: truncateText(`${issueKey}: ${shown}h by ${authorName}`, TITLE_MAX_CHARS),
    content_preview: truncateText(text, PREVIEW_MAX_CHARS),
  }
  if (resolved.authorEmail) {
    metadata.author_email = resolved.authorEmail
  }
  return { id: tempoVectorId(worklog.id), text, metadata }
}
