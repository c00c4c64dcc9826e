// Sections b and c: a Jira backfill against fakes with injected latencies, at the pace budgets,
// beside what those latencies and budgets allow (upstream-bound.ts) and beside the original
// system's pacing on the same latencies (original-pacing.ts).
import { MAX_SEARCH_PAGE } from '#core/upstreams/jira/client.ts'
import { PACE_BUDGETS } from '#core/upstreams/pace-budgets.ts'
import { KEY_PAGE_SIZE } from '#pipelines/jira/reconcile.ts'
import { startFakeJira } from '#sandbox/fakes/jira.ts'
import { startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import { figure } from './figures.ts'
import {
  JIRA_LATENCIES,
  LATENCIES,
  PINECONE_LATENCIES,
  runJiraBackfill,
  sampleIssues,
  startJiraFakes,
} from './jira-run.ts'
import { ORIGINAL, originalModelMs, runOriginal } from './original-pacing.ts'
import { type BenchContext, round, type Section, sharedRun } from './section.ts'
import { upstreamBound } from './upstream-bound.ts'

const LATENCY_TEXT = `Jira search page ${LATENCIES.jiraSearch} ms, embed batch ${LATENCIES.embed} ms, upsert ${LATENCIES.upsert} ms`

// Embeddings of 8 values (the fake's knob): the figure is about the schedule of requests against
// the latencies and budgets; 1024-value vectors add about 80 ms of JSON work a page on each side
// (profiled), which on a shared 2-core machine measures the machine instead.
const DIMENSION = 8

type Workload = { name: string; projects: number; issues: number }

function workloads(quick: boolean): Workload[] {
  return quick
    ? [{ name: 'projects', projects: 2, issues: 300 }]
    : [
        { name: 'projects', projects: 4, issues: 10_000 },
        { name: 'one-project', projects: 1, issues: 3_000 },
      ]
}

type Measured = Workload & {
  perProject: number[]
  elapsedMs: number
  written: number
  boundMs: number
  decidedBy: string
  jiraRequests: number
  pineconeRequests: number
}

async function measureWorkload(context: BenchContext, workload: Workload): Promise<Measured> {
  const now = new Date()
  const issues = sampleIssues(workload.projects, workload.issues, now)
  const counts = new Map<string, number>()
  for (const issue of issues) {
    counts.set(issue.fields.project.key, (counts.get(issue.fields.project.key) ?? 0) + 1)
  }
  const perProject = [...counts.values()]
  const fakes = await startJiraFakes(issues, { latencies: true, embedDimension: DIMENSION, now })
  try {
    context.progress(
      `Jira backfill: ${workload.issues} issues in ${perProject.length} projects (${perProject.join(', ')}), ${perProject.length} workers…`,
    )
    const run = await runJiraBackfill(context.server, fakes, { workers: perProject.length })
    if (run.status !== 'succeeded' || run.itemsWritten < workload.issues) {
      throw new Error(
        `the backfill ended ${run.status} with ${run.itemsWritten} of ${workload.issues} written`,
      )
    }
    const pineconeRequests = fakes.pinecone.requests.length
    const bound = upstreamBound({
      projects: perProject,
      // The bound reads Jira's largest pages, whatever page size the pipeline chose.
      pageSize: MAX_SEARCH_PAGE,
      keyPageSize: KEY_PAGE_SIZE,
      latencies: LATENCIES,
      budgets: PACE_BUDGETS,
      pineconeRequests,
    })
    context.progress(
      `  ${(run.elapsedMs / 1000).toFixed(1)} s; bound ${(bound.ms / 1000).toFixed(1)} s (${bound.decidedBy})`,
    )
    return {
      ...workload,
      perProject,
      elapsedMs: run.elapsedMs,
      written: workload.issues,
      boundMs: bound.ms,
      decidedBy: bound.decidedBy,
      jiraRequests: fakes.jira.requests.length,
      pineconeRequests,
    }
  } finally {
    await fakes.close()
  }
}

function measureAll(context: BenchContext): Promise<Measured[]> {
  return sharedRun(context, 'jira-latency-runs', async () => {
    const measured: Measured[] = []
    for (const workload of workloads(context.quick)) {
      measured.push(await measureWorkload(context, workload))
    }
    return measured
  })
}

/** Section b: achieved ÷ the upstream bound. */
export const boundSection: Section = {
  name: 'bound',
  title: 'Jira backfill vs the upstream bound',
  async run(context) {
    const measured = await measureAll(context)
    return measured.map((m) =>
      figure({
        id: `bound.jira-${m.name}.ratio`,
        label: `Jira backfill, ${m.projects} project${m.projects > 1 ? 's' : ''}: achieved ÷ upstream bound`,
        value: round((m.boundMs / m.elapsedMs) * 100, 1),
        unit: '%',
        target: { op: '>=', value: 90 },
        how: `${m.written} issues (${m.perProject.join(', ')} a project), ${m.perProject.length} workers side by side in one process; ${LATENCY_TEXT}; embeddings of ${DIMENSION} values; budgets Jira search ${PACE_BUDGETS['jira-search'].limit}/s, Pinecone ${PACE_BUDGETS.pinecone.limit}/s; ${(m.elapsedMs / 1000).toFixed(1)} s (${Math.round(m.written / (m.elapsedMs / 1000))} issues/s) against a bound of ${(m.boundMs / 1000).toFixed(1)} s set by the ${m.decidedBy}; ${m.jiraRequests} Jira and ${m.pineconeRequests} Pinecone requests`,
      }),
    )
  },
}

/** Section c: ours ÷ the original system's pacing, same latencies and workload. */
export const originalSection: Section = {
  name: 'original',
  title: "Jira backfill vs the original system's pacing",
  async run(context) {
    const measured = await measureAll(context)
    const ours = measured[0]
    if (!ours) {
      throw new Error('no Jira run to compare with')
    }
    // The original, run for real on a sample of one project, then extended to the workload by the
    // exact model of its sleeps and latencies (the whole workload would take hours).
    const sampleSize = context.quick ? 10 : 100
    const now = new Date()
    const sample = sampleIssues(1, sampleSize, now)
    const jira = await startFakeJira({ now })
    const pinecone = await startFakePinecone({ dimension: 8, embedDimension: 8 })
    jira.loadIssues(sample)
    jira.setLatencies(JIRA_LATENCIES)
    pinecone.setLatencies(PINECONE_LATENCIES)
    let sampleMs: number
    try {
      context.progress(`original pacing on a sample of ${sampleSize} issues…`)
      const started = performance.now()
      const written = await runOriginal(
        {
          jira: { url: jira.url, email: jira.email, apiToken: jira.apiToken },
          pinecone: { url: pinecone.url, apiKey: pinecone.apiKey },
        },
        [sample[0]?.fields.project.key ?? 'OPS'],
      )
      sampleMs = performance.now() - started
      if (written !== sampleSize) {
        throw new Error(`the original's client wrote ${written} of ${sampleSize}`)
      }
    } finally {
      await jira.close()
      await pinecone.close()
    }
    const sampleModelMs = originalModelMs([sampleSize], LATENCIES)
    const workloadMs = originalModelMs(ours.perProject, LATENCIES) * (sampleMs / sampleModelMs)
    context.progress(
      `  sample ${(sampleMs / 1000).toFixed(1)} s (model ${(sampleModelMs / 1000).toFixed(1)} s); workload ${(workloadMs / 60_000).toFixed(1)} min`,
    )
    return [
      figure({
        id: 'original.jira.ratio',
        label: "Jira backfill, ours ÷ the original system's pacing",
        value: round(workloadMs / ours.elapsedMs, 1),
        unit: 'x',
        target: { op: '>=', value: 30 },
        how: `${ours.written} issues in ${ours.perProject.length} projects, ${LATENCY_TEXT} (issue GETs none, for both): ours ${(ours.elapsedMs / 1000).toFixed(1)} s measured; the original's pacing (pages of ${ORIGINAL.pageSize}, ${ORIGINAL.pageSleepMs / 1000} s between pages, ${ORIGINAL.projectSleepMs / 1000} s between projects, GETs ${ORIGINAL.groupSize} at a time ${ORIGINAL.staggerMs / 1000} s apart with ${ORIGINAL.groupSleepMs / 1000} s between groups, one embed call per issue) run on ${sampleSize} issues in ${(sampleMs / 1000).toFixed(1)} s (its model says ${(sampleModelMs / 1000).toFixed(1)} s) and extended by the model to ${(workloadMs / 60_000).toFixed(1)} min`,
      }),
    ]
  },
}
