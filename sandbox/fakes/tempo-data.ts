import { seededRandom } from './server.ts'

/**
 * A worklog as the fake Tempo stores it. The wire JSON is derived from it (see `tempo.ts`):
 * `projectId` stays internal, for the `projectId` filter, because Tempo v4 never returns the project.
 * Ids are numbers as on Tempo's wire; Jira's string ids convert with `Number(id)`.
 */
export type FakeTempoWorklog = {
  tempoWorklogId: number
  issueId: number
  projectId: number
  authorAccountId: string
  /** seconds, > 0 */
  timeSpentSeconds: number
  /** seconds, 0 ≤ billable */
  billableSeconds: number
  /** yyyy-MM-dd */
  startDate: string
  /** HH:mm:ss */
  startTime: string
  /** free text; may be empty and may mention keys of other issues */
  description: string
  /** ISO 8601 in UTC with `Z`, no milliseconds (Tempo's form) */
  createdAt: string
  /** ISO 8601 in UTC with `Z`, no milliseconds; moves on every edit */
  updatedAt: string
  attributes: Array<{ key: string; value: string }>
}

/** Options for `sampleWorklogs`. */
export type SampleWorklogsOptions = {
  seed: number
  count: number
  /** Jira issues to log against: Jira's string ids and their project's string id. */
  issues: Array<{ id: string; projectId: string }>
  accountIds: string[]
  /** yyyy-MM-dd, inclusive */
  from: string
  /** yyyy-MM-dd, inclusive */
  to: string
  /** id of the first worklog; later ones count up from it (default 10 000) */
  firstId?: number
  /**
   * The present: no `createdAt` or `updatedAt` after it, as on a real Tempo (an edit made later
   * must be newer than what is stored). Default: none, timestamps may run past `to`.
   */
  now?: Date
}

const DAY_MS = 86_400_000

// Empty and key-like texts on purpose: keys come from Jira by issue id, never from a description.
const DESCRIPTIONS = [
  '',
  'see OTHER-99',
  'Code review',
  'Pairing on the import job, follow-up in ZZZ-1',
  'Standup and planning',
  '',
  'Investigated flaky test (not ABC-12, that one was fine)',
  'Customer call',
]

/** `Date` → Tempo's timestamp form, `2025-01-06T10:02:11Z`. */
export function tempoTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Tempo's list order: by `startDate`, then `tempoWorklogId` (stable across pages). */
export function compareWorklogs(a: FakeTempoWorklog, b: FakeTempoWorklog): number {
  if (a.startDate !== b.startDate) {
    return a.startDate < b.startDate ? -1 : 1
  }
  return a.tempoWorklogId - b.tempoWorklogId
}

/** A deep copy, so callers cannot change what a fake stores. */
export function copyWorklog(worklog: FakeTempoWorklog): FakeTempoWorklog {
  return { ...worklog, attributes: worklog.attributes.map((attribute) => ({ ...attribute })) }
}

/**
 * A stored worklog as Tempo v4 sends it: numeric ids, no issue key, no project, no author name or
 * email. `baseUrl` is the fake's, `jiraBaseUrl` the site's the `self` links point to.
 */
export function toTempoJson(worklog: FakeTempoWorklog, baseUrl: string, jiraBaseUrl: string) {
  const self = `${baseUrl}/4/worklogs/${worklog.tempoWorklogId}`
  const accountId = encodeURIComponent(worklog.authorAccountId)
  return {
    self,
    tempoWorklogId: worklog.tempoWorklogId,
    issue: { self: `${jiraBaseUrl}/rest/api/2/issue/${worklog.issueId}`, id: worklog.issueId },
    timeSpentSeconds: worklog.timeSpentSeconds,
    billableSeconds: worklog.billableSeconds,
    startDate: worklog.startDate,
    startTime: worklog.startTime,
    description: worklog.description,
    createdAt: worklog.createdAt,
    updatedAt: worklog.updatedAt,
    author: {
      self: `${jiraBaseUrl}/rest/api/2/user?accountId=${accountId}`,
      accountId: worklog.authorAccountId,
    },
    attributes: { self: `${self}/work-attribute-values`, values: copyWorklog(worklog).attributes },
  }
}

function parseDay(day: string): number {
  const ms = Date.parse(`${day}T00:00:00Z`)
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(ms)) {
    throw new Error(`expected a yyyy-MM-dd date, got ${JSON.stringify(day)}`)
  }
  return ms
}

// Unique by default so a list of builders does not collide; tests that care pass `tempoWorklogId`.
let nextBuiltId = 900_000

/**
 * A valid stored worklog; a test states only the fields it is about.
 * @example fake.setWorklogs([aWorklog({ issueId: 10991, startDate: '2025-01-06' })])
 */
export function aWorklog(overrides: Partial<FakeTempoWorklog> = {}): FakeTempoWorklog {
  nextBuiltId += 1
  return {
    tempoWorklogId: nextBuiltId,
    issueId: 10991,
    projectId: 10000,
    authorAccountId: '712020:0e9c6a5d-2f4b-4c1e-9c55-1d7f1c2b7a01',
    timeSpentSeconds: 5400,
    billableSeconds: 5400,
    startDate: '2025-01-06',
    startTime: '09:30:00',
    description: 'Review of the import job',
    createdAt: '2025-01-06T11:02:11Z',
    updatedAt: '2025-01-06T11:02:11Z',
    attributes: [],
    ...overrides,
  }
}

function pick<T>(list: readonly T[], random: () => number): T {
  const item = list[Math.floor(random() * list.length)]
  if (item === undefined) {
    throw new Error('cannot pick from an empty list')
  }
  return item
}

/**
 * Deterministic worklogs spread over `from`..`to` (same seed, same output), with varied times,
 * durations, billable time and descriptions (some empty, some naming an unrelated issue key).
 * @example const worklogs = sampleWorklogs({ seed: 7, count: 120, issues, accountIds, from: '2025-01-01', to: '2025-01-31' })
 */
export function sampleWorklogs(options: SampleWorklogsOptions): FakeTempoWorklog[] {
  const { seed, count, issues, accountIds, from, to, firstId = 10_000 } = options
  const latest = options.now?.getTime() ?? Number.POSITIVE_INFINITY
  const start = parseDay(from)
  const days = Math.round((parseDay(to) - start) / DAY_MS) + 1
  if (days < 1 || issues.length === 0 || accountIds.length === 0) {
    throw new Error('sampleWorklogs needs from ≤ to, at least one issue and one account id')
  }
  const random = seededRandom(seed)
  // A random rotation through the texts, so every kind appears once count ≥ DESCRIPTIONS.length.
  const descriptionOffset = Math.floor(random() * DESCRIPTIONS.length)

  for (const issue of issues) {
    if (!/^\d+$/.test(issue.id) || !/^\d+$/.test(issue.projectId)) {
      throw new Error(`Jira ids are numeric strings, got ${JSON.stringify(issue)}`)
    }
  }

  return Array.from({ length: count }, (_, n) => {
    const issue = pick(issues, random)
    const day = start + Math.floor(random() * days) * DAY_MS
    const startMinutes = 7 * 60 + Math.floor(random() * 48) * 15 // 07:00–18:45
    const timeSpentSeconds = (1 + Math.floor(random() * 32)) * 15 * 60 // 15 min–8 h
    const billableSeconds = random() < 0.2 ? 0 : timeSpentSeconds
    const started = day + startMinutes * 60_000
    const created = Math.min(
      latest,
      started + timeSpentSeconds * 1000 + Math.floor(random() * 7200) * 1000,
    )
    const edited = Math.min(
      latest,
      random() < 0.3 ? created + Math.floor(random() * 5 * DAY_MS) : created,
    )
    const hh = String(Math.floor(startMinutes / 60)).padStart(2, '0')
    const mm = String(startMinutes % 60).padStart(2, '0')
    return {
      tempoWorklogId: firstId + n,
      issueId: Number(issue.id),
      projectId: Number(issue.projectId),
      authorAccountId: pick(accountIds, random),
      timeSpentSeconds,
      billableSeconds,
      startDate: new Date(day).toISOString().slice(0, 10),
      startTime: `${hh}:${mm}:00`,
      description: DESCRIPTIONS[(n + descriptionOffset) % DESCRIPTIONS.length] ?? '',
      createdAt: tempoTimestamp(new Date(created)),
      updatedAt: tempoTimestamp(new Date(edited)),
      attributes: [],
    }
  })
}

/** The account id Tempo reports for a GDPR-anonymised author; Jira knows no such account. */
export const TEMPO_ANONYMISED_ACCOUNT = '__tempo-io__unknown_user'
