// The soak's verdict on the data: Pinecone (the fake's index) and `tempo_worklogs` compared with
// what the fakes hold now. Truth is the upstreams' present state: a record deleted upstream must
// be gone (deletions need positive evidence, which a complete final scan gives), an edited one
// must show the edit, a re-keyed issue must be stored under its new key only.
import type pg from 'pg'
import type { FakeJira } from '#sandbox/fakes/jira.ts'
import type { JiraUser } from '#sandbox/fakes/jira-data.ts'
import type { FakePinecone } from '#sandbox/fakes/pinecone.ts'
import type { FakeTempo } from '#sandbox/fakes/tempo.ts'
import { TEMPO_ANONYMISED_ACCOUNT } from '#sandbox/fakes/tempo-data.ts'

/** Counts for one store; each list holds the first few ids as examples. */
export type StoreVerdict = {
  expected: number
  stored: number
  /** in the upstream, not stored */
  lost: number
  /** stored with content that differs from the upstream's */
  stale: number
  /** stored, but the upstream no longer has it (deleted there) */
  leftover: number
  /** one upstream record stored more than once (e.g. under a former key as well) */
  duplicated: number
  examples: string[]
}

export type Verdict = {
  jiraVectors: StoreVerdict
  tempoRows: StoreVerdict
  tempoVectors: StoreVerdict
}

type Expected = Record<string, string | number>

function compare(
  expected: Map<string, Expected>,
  stored: Map<string, Expected>,
  sameRecord: (storedId: string) => string | undefined,
): StoreVerdict {
  const verdict: StoreVerdict = {
    expected: expected.size,
    stored: stored.size,
    lost: 0,
    stale: 0,
    leftover: 0,
    duplicated: 0,
    examples: [],
  }
  const note = (line: string) => {
    if (verdict.examples.length < 8) {
      verdict.examples.push(line)
    }
  }
  for (const [id, want] of expected) {
    const got = stored.get(id)
    if (!got) {
      verdict.lost += 1
      note(`lost ${id}`)
    } else if (Object.entries(want).some(([field, value]) => got[field] !== value)) {
      verdict.stale += 1
      note(`stale ${id}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`)
    }
  }
  for (const id of stored.keys()) {
    if (expected.has(id)) {
      continue
    }
    const current = sameRecord(id)
    if (current && expected.has(current)) {
      verdict.duplicated += 1
      note(`duplicated ${id} (now ${current})`)
    } else {
      verdict.leftover += 1
      note(`leftover ${id}`)
    }
  }
  return verdict
}

/** Compares the stores with the fakes. */
export async function judge(options: {
  jira: FakeJira
  tempo: FakeTempo
  pinecone: FakePinecone
  users: readonly JiraUser[]
  /** every key an issue ever had → its id */
  keysEver: ReadonlyMap<string, string>
  pool: Pick<pg.Pool, 'query'>
}): Promise<Verdict> {
  const issues = options.jira.issues()
  const issueById = new Map(issues.map((issue) => [issue.id, issue]))
  const vectors = options.pinecone.vectors('')

  // Jira: one vector `jira-<KEY>` per issue, with its key, project and title as Jira has them.
  const jiraExpected = new Map<string, Expected>(
    issues.map((issue) => [
      `jira-${issue.key}`,
      {
        issue_key: issue.key,
        project_key: issue.fields.project.key,
        title: `${issue.key}: ${issue.fields.summary}`,
      },
    ]),
  )
  const jiraStored = new Map<string, Expected>()
  for (const [id, vector] of vectors) {
    if (id.startsWith('jira-')) {
      const m = vector.metadata ?? {}
      jiraStored.set(id, {
        issue_key: String(m.issue_key),
        project_key: String(m.project_key),
        title: String(m.title),
      })
    }
  }
  const currentKeyOf = (vectorId: string) => {
    const issueId = options.keysEver.get(vectorId.replace(/^jira-/, ''))
    const issue = issueId ? issueById.get(issueId) : undefined
    return issue ? `jira-${issue.key}` : undefined
  }

  // Tempo: one row and one vector per worklog, keyed and named as Jira has them now.
  const names = new Map(options.users.map((user) => [user.accountId, user.displayName]))
  const tempoExpected = new Map<string, Expected>()
  for (const worklog of options.tempo.worklogs()) {
    const issue = issueById.get(String(worklog.issueId))
    if (!issue) {
      continue // the soak deletes an issue's worklogs with it
    }
    tempoExpected.set(String(worklog.tempoWorklogId), {
      issue_key: issue.key,
      project_key: issue.fields.project.key,
      hours: worklog.timeSpentSeconds / 3600,
      author:
        worklog.authorAccountId === TEMPO_ANONYMISED_ACCOUNT
          ? 'Anonymised user'
          : (names.get(worklog.authorAccountId) ?? 'Unknown'),
      description: worklog.description,
    })
  }
  const rows = await options.pool.query<{
    worklog_id: string
    issue_key: string
    project_key: string
    hours: number
    user_display_name: string
    description: string
  }>(
    'select worklog_id, issue_key, project_key, hours, user_display_name, description from tempo_worklogs',
  )
  const rowsStored = new Map<string, Expected>()
  let rowDuplicates = 0
  for (const row of rows.rows) {
    if (rowsStored.has(row.worklog_id)) {
      rowDuplicates += 1
    }
    rowsStored.set(row.worklog_id, {
      issue_key: row.issue_key,
      project_key: row.project_key,
      hours: row.hours,
      author: row.user_display_name,
      description: row.description,
    })
  }
  const vectorExpected = new Map<string, Expected>(
    [...tempoExpected].map(([id, want]) => [
      `tempo-${id}`,
      {
        issue_key: want.issue_key as string,
        project_key: want.project_key as string,
        hours: want.hours as number,
        author: want.author as string,
      },
    ]),
  )
  const vectorStored = new Map<string, Expected>()
  for (const [id, vector] of vectors) {
    if (id.startsWith('tempo-')) {
      const m = vector.metadata ?? {}
      vectorStored.set(id, {
        issue_key: String(m.issue_key),
        project_key: String(m.project_key),
        hours: Number(m.hours_logged),
        author: String(m.author_name),
      })
    }
  }
  const tempoRows = compare(tempoExpected, rowsStored, () => undefined)
  tempoRows.duplicated += rowDuplicates
  tempoRows.stored = rows.rows.length
  return {
    jiraVectors: compare(jiraExpected, jiraStored, currentKeyOf),
    tempoRows,
    tempoVectors: compare(vectorExpected, vectorStored, () => undefined),
  }
}
