// Runs one Jira backfill in a child process (bench/backfill-process.ts) against fakes running here.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { PaceBudget } from '#core/rate-limit/pacer.ts'
import { PACE_BUDGETS, type PaceBudgetName } from '#core/upstreams/pace-budgets.ts'
import { type FakeJira, startFakeJira } from '#sandbox/fakes/jira.ts'
import { type JiraIssue, sampleOrganisation } from '#sandbox/fakes/jira-data.ts'
import { type FakePinecone, startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import type { LatencyRule } from '#sandbox/fakes/server.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import type { BackfillRunResult, BackfillRunSettings } from './backfill-process.ts'
import type { BenchServer } from './database.ts'

/** Injected upstream latencies, ms (README, "Benchmarks"). */
export const LATENCIES = { jiraSearch: 300, embed: 150, upsert: 80 } as const
export const JIRA_SEARCH_PATH = '/rest/api/3/search/jql'

export const JIRA_LATENCIES: LatencyRule[] = [{ path: JIRA_SEARCH_PATH, ms: LATENCIES.jiraSearch }]
export const PINECONE_LATENCIES: LatencyRule[] = [
  { method: 'POST', path: '/embed', ms: LATENCIES.embed },
  { method: 'POST', path: '/vectors/upsert', ms: LATENCIES.upsert },
]

/** Budgets so wide that pacing never waits (the memory runs). */
export const UNPACED: Record<PaceBudgetName, PaceBudget> = {
  'jira-search': { limit: 1_000_000_000, windowMs: 1 },
  jira: { limit: 1_000_000_000, windowMs: 1 },
  tempo: { limit: 1_000_000_000, windowMs: 1 },
  pinecone: { limit: 1_000_000_000, windowMs: 1 },
}

export type JiraFakes = { jira: FakeJira; pinecone: FakePinecone; close(): Promise<void> }

/** A sample organisation of `issues` issues over `projects` projects (the sandbox's generator). */
export function sampleIssues(projects: number, issues: number, now: Date): JiraIssue[] {
  return sampleOrganisation({ seed: 20_260_101, projects, issues, users: 24, now }).issues
}

/** The fake Jira (holding `issues`) and Pinecone; `latencies` on, or none. */
export async function startJiraFakes(
  issues: readonly JiraIssue[],
  options: { latencies: boolean; embedDimension?: number; now: Date },
): Promise<JiraFakes> {
  const jira = await startFakeJira({ now: options.now })
  jira.loadIssues(issues)
  const pinecone = await startFakePinecone(
    options.embedDimension
      ? { dimension: options.embedDimension, embedDimension: options.embedDimension }
      : {},
  )
  if (options.latencies) {
    jira.setLatencies(JIRA_LATENCIES)
    pinecone.setLatencies(PINECONE_LATENCIES)
  }
  return {
    jira,
    pinecone,
    async close() {
      await jira.close()
      await pinecone.close()
    },
  }
}

/** Runs a `backfill-jira` over every project (all `days`) in a child process, on a fresh database. */
export async function runJiraBackfill(
  server: BenchServer,
  fakes: JiraFakes,
  options: {
    workers: number
    budgets?: Record<PaceBudgetName, PaceBudget>
    days?: number
    measureHeap?: boolean
  },
): Promise<BackfillRunResult> {
  const database = await server.fresh({ poolMax: 1 })
  try {
    const settings: BackfillRunSettings = {
      databaseUrl: database.url,
      env: upstreamEnv({ jira: fakes.jira, pinecone: fakes.pinecone }),
      days: options.days ?? 3650,
      workers: options.workers,
      budgets: options.budgets ?? PACE_BUDGETS,
      ...(options.measureHeap && { measureHeap: true }),
    }
    return await inChild(settings)
  } finally {
    await database.drop()
  }
}

async function inChild(settings: BackfillRunSettings): Promise<BackfillRunResult> {
  const script = join(import.meta.dirname, 'backfill-process.ts')
  // A memory run collects garbage before each sample (gc() exists with --expose-gc only).
  const flags = settings.measureHeap ? ['--expose-gc'] : []
  const child = spawn(
    process.execPath,
    [...flags, '--import', 'tsx', script, JSON.stringify(settings)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const errors: string[] = []
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString()))
  let result: BackfillRunResult | undefined
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('{')) {
      result = JSON.parse(line) as BackfillRunResult
    }
  })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0 || !result) {
    throw new Error(`the backfill process failed (exit ${code}):\n${errors.join('').slice(-2000)}`)
  }
  return result
}
