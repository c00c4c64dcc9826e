import {
  type AdfDoc,
  type AdfNode,
  adfBulletList,
  adfCodeBlock,
  adfDoc,
  adfHardBreak,
  adfHeading,
  adfInlineCard,
  adfLink,
  adfMedia,
  adfMention,
  adfOrderedList,
  adfParagraph,
  adfText,
  adfUnknown,
} from './adf.ts'
import { seededRandom } from './server.ts'

/** A Jira Cloud user as `GET /rest/api/3/user` returns it (`emailAddress` withheld, as usual). */
export type JiraUser = {
  accountId: string
  displayName: string
  active: boolean
  accountType: 'atlassian' | 'app' | 'customer'
  timeZone?: string
}

/** A project as the fake stores it; `self` and `projectTypeKey` are added on the wire. */
export type JiraProject = { id: string; key: string; name: string }

/** `fields.status`: ids are strings except `statusCategory.id`, a number. */
export type JiraStatus = {
  id: string
  name: string
  statusCategory: { id: number; key: string; name: string; colorName: string }
}

/** The fields the fake knows; `*all` returns all of them. */
export type JiraIssueFields = {
  summary: string
  description: AdfDoc | null
  status: JiraStatus
  priority: { id: string; name: string } | null
  assignee: JiraUser | null
  reporter: JiraUser | null
  issuetype: { id: string; name: string; subtask: boolean; hierarchyLevel: number }
  project: JiraProject
  /** `2024-09-12T19:21:32.992+0000` */
  created: string
  /** `2024-09-12T19:21:32.992+0000`; what `updated` in JQL compares */
  updated: string
  labels: string[]
  parent?: {
    id: string
    key: string
    fields: { summary: string; status: JiraStatus; issuetype: JiraIssueFields['issuetype'] }
  }
}

/** An issue in Jira's v3 JSON shape. */
export type JiraIssue = { id: string; key: string; self: string; fields: JiraIssueFields }

/** What a test may override in `aJiraIssue`: top-level ids and any subset of fields. */
export type JiraIssueOverrides = Partial<Pick<JiraIssue, 'id' | 'key' | 'self'>> & {
  fields?: Partial<JiraIssueFields>
}

/** Where builder-made `self` links point; the fake rewrites the issue's own `self` to its URL. */
export const JIRA_SITE = 'https://fake.atlassian.net'

/** `ms` → Jira's timestamp form, `2024-09-12T19:21:32.992+0000` (UTC, offset without colon). */
export function jiraTimestamp(ms: number | Date): string {
  return new Date(ms).toISOString().replace('Z', '+0000')
}

/** Jira's timestamp → epoch ms; throws on anything else (the fake's data must be well formed). */
export function parseJiraTimestamp(value: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})([+-]\d{2})(\d{2})$/.exec(value)
  const ms = match ? Date.parse(`${match[1]}${match[2]}:${match[3]}`) : Number.NaN
  if (Number.isNaN(ms)) {
    throw new Error(`not a Jira timestamp: ${JSON.stringify(value)}`)
  }
  return ms
}

const CATEGORY = {
  new: { id: 2, key: 'new', name: 'To Do', colorName: 'blue-gray' },
  indeterminate: { id: 4, key: 'indeterminate', name: 'In Progress', colorName: 'yellow' },
  done: { id: 3, key: 'done', name: 'Done', colorName: 'green' },
}

/** Statuses the builders and the generator draw from. */
export const JIRA_STATUSES: JiraStatus[] = [
  { id: '10000', name: 'To Do', statusCategory: CATEGORY.new },
  { id: '3', name: 'In Progress', statusCategory: CATEGORY.indeterminate },
  { id: '10001', name: 'In Review', statusCategory: CATEGORY.indeterminate },
  { id: '10002', name: 'Done', statusCategory: CATEGORY.done },
]

const ISSUE_TYPES = {
  epic: { id: '10000', name: 'Epic', subtask: false, hierarchyLevel: 1 },
  story: { id: '10001', name: 'Story', subtask: false, hierarchyLevel: 0 },
  task: { id: '10002', name: 'Task', subtask: false, hierarchyLevel: 0 },
  bug: { id: '10003', name: 'Bug', subtask: false, hierarchyLevel: 0 },
}

const PRIORITIES = ['Highest', 'High', 'Medium', 'Low', 'Lowest'].map((name, n) => ({
  id: String(n + 1),
  name,
}))

/** A small stable hash (FNV-1a), so a key always maps to the same default id. */
function hash(text: string): number {
  let h = 0x811c9dc5
  for (let n = 0; n < text.length; n += 1) {
    h = Math.imul(h ^ text.charCodeAt(n), 0x01000193) >>> 0
  }
  return h
}

/** A user with valid defaults. */
export function aJiraUser(overrides: Partial<JiraUser> = {}): JiraUser {
  const accountId = overrides.accountId ?? '712020:00000000-0000-4000-8000-000000000001'
  return {
    accountId,
    displayName: 'Ada Lovelace',
    active: true,
    accountType: 'atlassian',
    timeZone: 'Etc/UTC',
    ...overrides,
  }
}

// Unique default keys, so a list of builders does not collide; tests that care pass `key`.
let nextBuiltNumber = 0

/**
 * A valid issue; a test states only what it is about. The project follows the key's prefix and the
 * id follows the key (stable across calls) unless given.
 * @example fake.setIssues([aJiraIssue({ key: 'OPS-1', fields: { updated: jiraTimestamp(now) } })])
 */
export function aJiraIssue(overrides: JiraIssueOverrides = {}): JiraIssue {
  nextBuiltNumber += 1
  const key = overrides.key ?? `TEST-${nextBuiltNumber}`
  const projectKey = key.split('-')[0] ?? 'TEST'
  const id = overrides.id ?? String(100_000 + (hash(key) % 900_000_000))
  const fields: JiraIssueFields = {
    summary: `Summary of ${key}`,
    description: adfDoc(adfParagraph(`Description of ${key}.`)),
    status: JIRA_STATUSES[0] as JiraStatus,
    priority: { id: '3', name: 'Medium' },
    assignee: aJiraUser(),
    reporter: aJiraUser({
      accountId: '712020:00000000-0000-4000-8000-000000000002',
      displayName: 'Grace Hopper',
    }),
    issuetype: ISSUE_TYPES.task,
    project: {
      id: String(10_000 + (hash(projectKey) % 90_000)),
      key: projectKey,
      name: `Project ${projectKey}`,
    },
    created: '2024-09-12T19:21:32.992+0000',
    updated: '2024-09-12T19:21:32.992+0000',
    labels: [],
    ...overrides.fields,
  }
  return { id, key, self: overrides.self ?? `${JIRA_SITE}/rest/api/3/issue/${id}`, fields }
}

/** Options for `sampleOrganisation`; `now` is explicit so the output never depends on the wall clock. */
export type SampleOrganisationOptions = {
  seed: number
  projects: number
  issues: number
  users: number
  now: Date
}

/** A deterministic Jira site: the same options always give the same data. */
export type SampleOrganisation = { projects: JiraProject[]; users: JiraUser[]; issues: JiraIssue[] }

const PROJECT_WORDS = ['OPS', 'WEB', 'DATA', 'INFRA', 'MOB', 'API', 'SEC', 'PAY', 'CRM', 'HR']
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Margaret', 'Linus', 'Radia']
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Thompson',
  'Hamilton',
  'Perlman',
]
const VERBS = ['Fix', 'Add', 'Remove', 'Investigate', 'Refactor', 'Document', 'Speed up', 'Migrate']
const THINGS = [
  'login flow',
  'billing export',
  'search index',
  'nightly backup',
  'Jira sync',
  'API',
]
const TWO_YEARS_MS = 2 * 365 * 86_400_000

type Random = () => number

function pick<T>(random: Random, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T
}

function uuidLike(random: Random): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`
}

function sampleDescription(random: Random, users: JiraUser[], key: string): AdfDoc | null {
  const roll = random()
  if (roll < 0.15) {
    return null
  }
  const user = pick(random, users)
  const blocks: AdfNode[] = [
    adfParagraph(`${pick(random, VERBS)} the ${pick(random, THINGS)}.`, adfHardBreak(), 'Context:'),
  ]
  const extras: Array<() => AdfNode> = [
    () => adfHeading(2, 'Steps'),
    () => adfBulletList('Open the page', adfText('Click save', [{ type: 'strong' }])),
    () => adfOrderedList('Reproduce', 'Fix', [adfParagraph('Verify'), adfParagraph('on staging')]),
    () => adfCodeBlock(`SELECT * FROM issues WHERE key = '${key}';`, 'sql'),
    () => adfParagraph('Ping ', adfMention(user.accountId, user.displayName), ' please.'),
    () =>
      adfParagraph(
        'See ',
        adfInlineCard(`${JIRA_SITE}/browse/${key}`),
        ' and ',
        adfLink('docs', 'https://example.com/docs'),
      ),
    () => adfMedia(uuidLike(random)),
    () => adfUnknown('futurePanel', adfParagraph('Text inside a node type nobody knows yet.')),
  ]
  for (const extra of extras) {
    if (random() < 0.4) {
      blocks.push(extra())
    }
  }
  return adfDoc(...blocks)
}

function sampleUsers(random: Random, count: number): JiraUser[] {
  return Array.from({ length: count }, (_, n) => {
    const app = n > 0 && random() < 0.1
    return {
      accountId: app ? `557058:${uuidLike(random)}` : `712020:${uuidLike(random)}`,
      displayName: app ? `Automation bot ${n}` : `${pick(random, FIRST)} ${pick(random, LAST)}`,
      active: random() > 0.1,
      accountType: app ? 'app' : 'atlassian',
      timeZone: pick(random, ['Etc/UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo']),
    }
  })
}

/**
 * Projects, users and issues drawn from `seed`: ADF of every kind, ~15 % null descriptions,
 * ~20 % unassigned, epics as parents of ~40 % of the other issues, `updated` spread over the two
 * years before `now`. Ids count up from 10001 in creation order; keys number per project.
 * @example const org = sampleOrganisation({ seed: 7, projects: 3, issues: 200, users: 12, now })
 */
export function sampleOrganisation(options: SampleOrganisationOptions): SampleOrganisation {
  const random = seededRandom(options.seed)
  const now = options.now.getTime()
  const projects = Array.from({ length: Math.max(1, options.projects) }, (_, n) => {
    const key = PROJECT_WORDS[n] ?? `P${n + 1}`
    return { id: String(10_000 + n), key, name: `${key} team` }
  })
  const users = sampleUsers(random, Math.max(1, options.users))
  const createdTimes = Array.from({ length: options.issues }, () => now - random() * TWO_YEARS_MS)
  createdTimes.sort((a, b) => a - b)
  const numbers = new Map<string, number>()
  const epics = new Map<string, JiraIssue[]>()
  const issues = createdTimes.map((created, n): JiraIssue => {
    const project = pick(random, projects)
    const number = (numbers.get(project.key) ?? 0) + 1
    numbers.set(project.key, number)
    const key = `${project.key}-${number}`
    const id = String(10_001 + n)
    const projectEpics = epics.get(project.key) ?? []
    const isEpic = projectEpics.length === 0 || random() < 0.08
    const parent = !isEpic && random() < 0.4 ? pick(random, projectEpics) : undefined
    const issue = aJiraIssue({
      id,
      key,
      fields: {
        summary: `${pick(random, VERBS)} ${pick(random, THINGS)} (${key})`,
        description: sampleDescription(random, users, key),
        status: pick(random, JIRA_STATUSES),
        priority: random() < 0.05 ? null : pick(random, PRIORITIES),
        assignee: random() < 0.2 ? null : pick(random, users),
        reporter: pick(random, users),
        issuetype: isEpic
          ? ISSUE_TYPES.epic
          : pick(random, [ISSUE_TYPES.story, ISSUE_TYPES.task, ISSUE_TYPES.bug]),
        project,
        created: jiraTimestamp(Math.floor(created)),
        updated: jiraTimestamp(Math.floor(created + random() * (now - created))),
        labels:
          random() < 0.3 ? [pick(random, ['backend', 'frontend', 'urgent', 'tech-debt'])] : [],
        ...(parent && {
          parent: {
            id: parent.id,
            key: parent.key,
            fields: {
              summary: parent.fields.summary,
              status: parent.fields.status,
              issuetype: parent.fields.issuetype,
            },
          },
        }),
      },
    })
    if (isEpic) {
      epics.set(project.key, [...projectEpics, issue])
    }
    return issue
  })
  return { projects, users, issues }
}
