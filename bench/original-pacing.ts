// The original system's Jira backfill pacing (README, "Benchmarks"), as a small client of the same
// fakes: per project, search pages of 50 ids with 2 s between pages; then each issue fetched by
// id, at most 5 in flight started 0.1 s apart, 1 s between groups; one embed call per issue; upserts
// of 100; 5 s between projects. `originalModelMs` is the same schedule computed from the latencies.
import { setTimeout as sleep } from 'node:timers/promises'

export const ORIGINAL = {
  pageSize: 50,
  pageSleepMs: 2_000,
  projectSleepMs: 5_000,
  groupSize: 5,
  staggerMs: 100,
  groupSleepMs: 1_000,
  upsertBatch: 100,
} as const

type Latencies = { jiraSearch: number; embed: number; upsert: number; issueGet?: number }

/** The original's time for `projects` (issues per project) under `latencies`, ms. */
export function originalModelMs(projects: readonly number[], latencies: Latencies): number {
  const o = ORIGINAL
  let total = 0
  for (const [n, issues] of projects.entries()) {
    const pages = Math.max(1, Math.ceil(issues / o.pageSize))
    const groups = Math.ceil(issues / o.groupSize)
    const lastGroup = issues - (groups - 1) * o.groupSize
    const groupMs = (size: number) => (size - 1) * o.staggerMs + (latencies.issueGet ?? 0)
    total +=
      pages * latencies.jiraSearch +
      (pages - 1) * o.pageSleepMs +
      (groups - 1) * (groupMs(o.groupSize) + o.groupSleepMs) +
      (groups > 0 ? groupMs(lastGroup) : 0) +
      issues * latencies.embed +
      Math.ceil(issues / o.upsertBatch) * latencies.upsert +
      (n > 0 ? o.projectSleepMs : 0)
  }
  return total
}

export type OriginalTarget = {
  jira: { url: string; email: string; apiToken: string }
  pinecone: { url: string; apiKey: string }
}

/** Runs the original's pacing over `projects` (keys) against the fakes; answers issues written. */
export async function runOriginal(
  target: OriginalTarget,
  projects: readonly string[],
): Promise<number> {
  const o = ORIGINAL
  const auth = `Basic ${Buffer.from(`${target.jira.email}:${target.jira.apiToken}`).toString('base64')}`
  const jira = async (path: string) => {
    const res = await fetch(`${target.jira.url}${path}`, {
      headers: { authorization: auth, accept: 'application/json' },
    })
    if (!res.ok) {
      throw new Error(`Jira answered ${res.status} to ${path}: ${await res.text()}`)
    }
    return (await res.json()) as Record<string, unknown>
  }
  const pinecone = async (path: string, body: unknown) => {
    const res = await fetch(`${target.pinecone.url}${path}`, {
      method: 'POST',
      headers: {
        'api-key': target.pinecone.apiKey,
        'content-type': 'application/json',
        'x-pinecone-api-version': '2025-04',
      },
      body: JSON.stringify(body),
    })
    if (!res.ok) {
      throw new Error(`Pinecone answered ${res.status} to ${path}: ${await res.text()}`)
    }
    return (await res.json()) as Record<string, unknown>
  }
  let written = 0
  for (const [n, project] of projects.entries()) {
    if (n > 0) {
      await sleep(o.projectSleepMs)
    }
    const ids: string[] = []
    let token: string | undefined
    for (let page = 0; ; page += 1) {
      if (page > 0) {
        await sleep(o.pageSleepMs)
      }
      const query = new URLSearchParams({
        jql: `project = ${project} AND updated >= 0 ORDER BY updated DESC`,
        maxResults: String(o.pageSize),
        fields: 'id',
      })
      if (token) {
        query.set('nextPageToken', token)
      }
      const found = await jira(`/rest/api/3/search/jql?${query}`)
      ids.push(...((found.issues as Array<{ id: string }>) ?? []).map((issue) => issue.id))
      token = found.nextPageToken as string | undefined
      if (found.isLast !== false || !token) {
        break
      }
    }
    const issues: Array<{ key: string; fields: { summary?: string } }> = []
    for (let start = 0; start < ids.length; start += o.groupSize) {
      if (start > 0) {
        await sleep(o.groupSleepMs)
      }
      const group = ids.slice(start, start + o.groupSize)
      const fetched = await Promise.all(
        group.map(async (id, k) => {
          await sleep(k * o.staggerMs)
          return jira(
            `/rest/api/3/issue/${id}?fields=summary,description,status,priority,assignee,reporter,created,updated,issuetype,project,key`,
          )
        }),
      )
      issues.push(...(fetched as unknown as typeof issues))
    }
    const vectors: Array<{ id: string; values: number[]; metadata: Record<string, string> }> = []
    for (const issue of issues) {
      const embedded = await pinecone('/embed', {
        model: 'llama-text-embed-v2',
        inputs: [{ text: issue.fields.summary ?? issue.key }],
        parameters: { input_type: 'passage', truncate: 'END' },
      })
      const values = (embedded.data as Array<{ values: number[] }>)[0]?.values ?? []
      vectors.push({
        id: `jira-${issue.key}`,
        values,
        metadata: { issue_key: issue.key, source: 'jira' },
      })
    }
    for (let start = 0; start < vectors.length; start += o.upsertBatch) {
      const batch = vectors.slice(start, start + o.upsertBatch)
      await pinecone('/vectors/upsert', { vectors: batch, namespace: '' })
      written += batch.length
    }
  }
  return written
}
