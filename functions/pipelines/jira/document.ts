import { adfToText } from '#core/upstreams/jira/adf.ts'
import type { JiraIssue, JiraIssueFields } from '#core/upstreams/jira/client.ts'
import type { PineconeDocument } from '#core/upstreams/pinecone/client.ts'
import { truncateText } from '#core/upstreams/pinecone/metadata.ts'

/**
 * A Jira issue as the vector the original system wrote (original-system.md §4.1), so readers keep
 * working: id `jira-<KEY>`, the same text template (parent and epic suffixes when the data is
 * there), the same metadata keys, and never a null value.
 */

/** The issue fields every search requests (no per-issue fetch). */
export const JIRA_FIELDS = [
  'summary',
  'description',
  'status',
  'priority',
  'assignee',
  'reporter',
  'issuetype',
  'project',
  'created',
  'updated',
  'labels',
  'parent',
] as const

const MAX_TEXT = 8000
const MAX_TITLE = 500
const MAX_PREVIEW = 1000

/** A Jira or ISO timestamp, split into what the metadata needs. */
export type IssueTime = { iso: string; epochSeconds: number; date: string; ms: number }

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * Parses Jira's `2024-09-12T19:21:32.992+0000` (or any ISO 8601 with an offset) into the
 * original's form, `2024-09-12T19:21:32.992000+00:00`: microseconds, the offset kept with a colon,
 * and the date as written (local to that offset). Undefined for anything else.
 */
export function parseIssueTime(value: string | null | undefined): IssueTime | undefined {
  const match = value ? TIMESTAMP.exec(value) : null
  if (!match) {
    return undefined
  }
  const [, date = '', time = '', fraction = '', zone = 'Z'] = match
  const offset =
    zone === 'Z' ? '+00:00' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`
  const micros = fraction.padEnd(6, '0').slice(0, 6)
  const ms = Date.parse(`${date}T${time}.${micros.slice(0, 3)}${offset}`)
  if (Number.isNaN(ms)) {
    return undefined
  }
  return {
    iso: `${date}T${time}.${micros}${offset}`,
    epochSeconds: Math.floor(ms / 1000),
    date,
    ms,
  }
}

function nowTime(now: Date): IssueTime {
  const iso = now.toISOString() // always UTC, milliseconds
  return {
    iso: `${iso.slice(0, 23)}000+00:00`,
    epochSeconds: Math.floor(now.getTime() / 1000),
    date: iso.slice(0, 10),
    ms: now.getTime(),
  }
}

/** `fields.epic`, else the first `customfield_*` object with a key that looks like an epic link. */
function epicOf(fields: JiraIssueFields): { key: string; summary: string } | undefined {
  const record = fields as Record<string, unknown>
  const candidates = [
    record.epic,
    ...Object.entries(record)
      .filter(([name]) => name.startsWith('customfield_'))
      .map(([, value]) => value),
  ]
  for (const candidate of candidates) {
    if (typeof candidate !== 'object' || candidate === null) {
      continue
    }
    const epic = candidate as Record<string, unknown>
    const nested = (epic.fields ?? {}) as Record<string, unknown>
    const summary = [epic.summary, epic.name, nested.summary].find((s) => typeof s === 'string')
    const isEpic = candidate === record.epic || String(epic.type ?? '').toLowerCase() === 'epic'
    if (typeof epic.key === 'string' && isEpic) {
      return { key: epic.key, summary: typeof summary === 'string' ? summary : '' }
    }
  }
  return undefined
}

/** The text the original embedded: summary, description, then parent and epic lines when known. */
export function issueText(issue: JiraIssue): string {
  const fields = issue.fields ?? {}
  const summary = fields.summary ?? ''
  const description = adfToText(fields.description)
  const parent = fields.parent
  const parentSummary = parent?.fields?.summary
  const parentInfo =
    parent?.key && parentSummary ? `\n\nParent Issue: ${parent.key} - ${parentSummary}` : ''
  const epic = epicOf(fields)
  const epicInfo = epic ? `\n\nEpic: ${epic.key} - ${epic.summary}` : ''
  return truncateText(`${summary}\n\n${description}${parentInfo}${epicInfo}`, MAX_TEXT)
}

/**
 * The Pinecone document of one issue. `project` is the project whose query returned it;
 * `jiraBaseUrl` makes the `url`; `now` stands in for a missing `updated`.
 * @example toJiraDocument(issue, { project: 'OPS', jiraBaseUrl: 'https://acme.atlassian.net', now })
 */
export function toJiraDocument(
  issue: JiraIssue,
  context: { project: string; jiraBaseUrl: string; now: Date },
): PineconeDocument {
  const fields = issue.fields ?? {}
  const text = issueText(issue)
  const time = parseIssueTime(fields.updated) ?? nowTime(context.now)
  const epic = epicOf(fields)
  // A parent of type Epic is the issue's epic in today's Jira; the text keeps the original template.
  const parentIsEpic = fields.parent?.fields?.issuetype?.name?.toLowerCase() === 'epic'
  const epicKey = epic?.key ?? (parentIsEpic ? fields.parent?.key : undefined)
  const metadata: PineconeDocument['metadata'] = {
    issue_key: issue.key,
    project_key: context.project,
    issue_type: fields.issuetype?.name || 'Unknown',
    status: fields.status?.name || 'Unknown',
    priority: fields.priority?.name || 'Medium',
    assignee: fields.assignee?.displayName || 'Unassigned',
    reporter: fields.reporter?.displayName || 'Unknown',
    timestamp: time.iso,
    timestamp_epoch: time.epochSeconds,
    date: time.date,
    url: `${context.jiraBaseUrl}/browse/${issue.key}`,
    access_type: 'all',
    source: 'jira',
    title: truncateText(`${issue.key}: ${fields.summary ?? ''}`, MAX_TITLE),
    content_preview: truncateText(text, MAX_PREVIEW),
  }
  if (fields.parent?.key) {
    metadata.parent_key = fields.parent.key
  }
  if (epicKey) {
    metadata.epic_key = epicKey
  }
  return { id: `jira-${issue.key}`, text, metadata }
}
