// Changes the soak makes upstream, in the fakes, while the system runs: issues added, edited,
// deleted, moved to another project (a new key) and a project renamed; worklogs added, edited,
// deleted and one author anonymised (GDPR). Every choice comes from the numbers it is given, so a
// seed repeats the same changes. Deleting an issue deletes its worklogs, as Jira and Tempo do.
import type { FakeJira } from '#sandbox/fakes/jira.ts'
import {
  aJiraIssue,
  type JiraIssue,
  type JiraUser,
  jiraTimestamp,
} from '#sandbox/fakes/jira-data.ts'
import type { FakeTempo } from '#sandbox/fakes/tempo.ts'
import { TEMPO_ANONYMISED_ACCOUNT } from '#sandbox/fakes/tempo-data.ts'

export const CHANGE_KINDS = [
  'add-issue',
  'edit-issue',
  'delete-issue',
  'move-issue',
  'rename-project',
  'add-worklog',
  'edit-worklog',
  'delete-worklog',
  'anonymise-author',
] as const
export type ChangeKind = (typeof CHANGE_KINDS)[number]

// Relative weights; a rename and an anonymisation touch many records and happen once at most.
const WEIGHTS: Record<ChangeKind, number> = {
  'add-issue': 14,
  'edit-issue': 18,
  'delete-issue': 6,
  'move-issue': 6,
  'rename-project': 1,
  'add-worklog': 18,
  'edit-worklog': 20,
  'delete-worklog': 8,
  'anonymise-author': 1,
}
const ONCE: ReadonlySet<ChangeKind> = new Set(['rename-project', 'anonymise-author'])

const DAY_MS = 86_400_000

function at<T>(list: readonly T[], pick: number): T | undefined {
  return list[Math.min(list.length - 1, Math.floor(pick * list.length))]
}

export type UpstreamChanges = {
  /**
   * Applies a change chosen by `picks` (each in [0, 1)), of the given kind or one `picks[0]`
   * chooses; answers what it did.
   */
  apply(picks: readonly number[], kind?: ChangeKind): { kind: ChangeKind; what: string }
  /** Changes applied so far, by kind. */
  counts(): Record<ChangeKind, number>
  /** Every key an issue ever had, to the issue's id (former keys stay known, as in Jira). */
  keysEver(): ReadonlyMap<string, string>
}

/**
 * The change maker over the fakes.
 * @example const changes = createUpstreamChanges({ jira, tempo, users, firstDay }); changes.apply([0.3, 0.7, 0.1])
 */
export function createUpstreamChanges(options: {
  jira: FakeJira
  tempo: FakeTempo
  users: readonly JiraUser[]
  /** the first day worklogs may be dated (YYYY-MM-DD) */
  firstDay: string
}): UpstreamChanges {
  const { jira, tempo } = options
  const counts = Object.fromEntries(CHANGE_KINDS.map((kind) => [kind, 0])) as Record<
    ChangeKind,
    number
  >
  const keys = new Map<string, string>(jira.issues().map((issue) => [issue.key, issue.id]))
  let nextIssueId = Math.max(...jira.issues().map((issue) => Number(issue.id))) + 1
  const totalWeight = CHANGE_KINDS.reduce((sum, kind) => sum + WEIGHTS[kind], 0)

  function kindOf(pick: number): ChangeKind {
    let left = pick * totalWeight
    for (const kind of CHANGE_KINDS) {
      left -= WEIGHTS[kind]
      if (left < 0) {
        return ONCE.has(kind) && counts[kind] > 0 ? 'edit-issue' : kind
      }
    }
    return 'edit-issue'
  }

  function projects(issues: readonly JiraIssue[]) {
    return [...new Map(issues.map((issue) => [issue.fields.project.key, issue.fields.project]))]
      .map(([, project]) => project)
      .sort((a, b) => a.key.localeCompare(b.key))
  }

  function issueAt(pick: number): JiraIssue | undefined {
    return at(
      jira.issues().sort((a, b) => Number(a.id) - Number(b.id)),
      pick,
    )
  }

  function remember(issue: JiraIssue) {
    keys.set(issue.key, issue.id)
  }

  function change(kind: ChangeKind, p: readonly number[]): string {
    const now = new Date()
    jira.setNow(now)
    tempo.setNow(now)
    const p1 = p[1] ?? 0
    const p2 = p[2] ?? 0
    switch (kind) {
      case 'add-issue': {
        const issues = jira.issues()
        const project = at(projects(issues), p1)
        if (!project) {
          return 'no project'
        }
        const taken = issues
          .filter((issue) => issue.fields.project.id === project.id)
          .map((issue) => Number(issue.key.split('-')[1]))
        const key = `${project.key}-${Math.max(0, ...taken, ...formerNumbers(project.key)) + 1}`
        const person = at(options.users, p2) ?? null
        const issue = jira.addIssue(
          aJiraIssue({
            id: String(nextIssueId++),
            key,
            fields: {
              project,
              summary: `Added during the soak at ${now.toISOString()}`,
              assignee: person,
              reporter: person,
              created: jiraTimestamp(now),
              updated: jiraTimestamp(now),
            },
          }),
        )
        remember(issue)
        return issue.key
      }
      case 'edit-issue': {
        const issue = issueAt(p1)
        if (!issue) {
          return 'no issue'
        }
        jira.updateIssue(issue.key, { summary: `Edited at ${now.toISOString()}` })
        return issue.key
      }
      case 'delete-issue': {
        const issue = issueAt(p1)
        if (!issue) {
          return 'no issue'
        }
        jira.deleteIssue(issue.key)
        const gone = tempo.worklogs().filter((worklog) => worklog.issueId === Number(issue.id))
        for (const worklog of gone) {
          tempo.deleteWorklog(worklog.tempoWorklogId)
        }
        return `${issue.key} and ${gone.length} worklogs`
      }
      case 'move-issue': {
        const issue = issueAt(p1)
        const others = projects(jira.issues()).filter(
          (project) => project.id !== issue?.fields.project.id,
        )
        const target = at(others, p2)
        if (!issue || !target) {
          return 'nothing to move'
        }
        const moved = jira.moveIssue(issue.key, target.key)
        remember(moved)
        // Tempo follows the issue into its new project.
        for (const worklog of tempo.worklogs()) {
          if (worklog.issueId === Number(moved.id)) {
            tempo.editWorklog(worklog.tempoWorklogId, { projectId: Number(target.id) })
          }
        }
        return `${issue.key} → ${moved.key}`
      }
      case 'rename-project': {
        const project = at(projects(jira.issues()), p1)
        if (!project) {
          return 'no project'
        }
        const to = `${project.key}R`
        jira.renameProject(project.key, to)
        for (const issue of jira.issues()) {
          remember(issue)
        }
        return `${project.key} → ${to}`
      }
      case 'add-worklog': {
        const issue = issueAt(p1)
        const author = at(options.users, p2)
        if (!issue || !author) {
          return 'no issue'
        }
        const first = Date.parse(`${options.firstDay}T00:00:00Z`)
        const today = Date.parse(`${now.toISOString().slice(0, 10)}T00:00:00Z`)
        const day = first + Math.floor((p[3] ?? 0) * ((today - first) / DAY_MS + 1)) * DAY_MS
        const worklog = tempo.addWorklog({
          issueId: Number(issue.id),
          projectId: Number(issue.fields.project.id),
          authorAccountId: author.accountId,
          startDate: new Date(day).toISOString().slice(0, 10),
          timeSpentSeconds: (1 + Math.floor(p2 * 16)) * 900,
          billableSeconds: 0,
          description: `Logged during the soak at ${now.toISOString()}`,
        })
        return `worklog ${worklog.tempoWorklogId} on ${issue.key}`
      }
      case 'edit-worklog': {
        const worklog = at(tempo.worklogs(), p1)
        if (!worklog) {
          return 'no worklog'
        }
        tempo.editWorklog(worklog.tempoWorklogId, {
          timeSpentSeconds: (1 + Math.floor(p2 * 32)) * 900,
          description: `Edited at ${now.toISOString()}`,
        })
        return `worklog ${worklog.tempoWorklogId}`
      }
      case 'delete-worklog': {
        const worklog = at(tempo.worklogs(), p1)
        if (!worklog) {
          return 'no worklog'
        }
        tempo.deleteWorklog(worklog.tempoWorklogId)
        return `worklog ${worklog.tempoWorklogId}`
      }
      case 'anonymise-author': {
        const author = at(options.users, p1)
        if (!author) {
          return 'no author'
        }
        const theirs = tempo.worklogs().filter((w) => w.authorAccountId === author.accountId)
        for (const worklog of theirs) {
          tempo.editWorklog(worklog.tempoWorklogId, { authorAccountId: TEMPO_ANONYMISED_ACCOUNT })
        }
        return `${author.displayName}: ${theirs.length} worklogs`
      }
    }
  }

  // Numbers a project's former issues had, so a new issue never takes a key a moved one left.
  function formerNumbers(projectKey: string): number[] {
    return [...keys.keys()]
      .filter((key) => key.startsWith(`${projectKey}-`))
      .map((key) => Number(key.split('-')[1]))
  }

  return {
    apply(picks, chosen) {
      const kind = chosen ?? kindOf(picks[0] ?? 0)
      const what = change(kind, picks)
      counts[kind] += 1
      return { kind, what }
    },
    counts: () => ({ ...counts }),
    keysEver: () => keys,
  }
}
