// Section d: the peak memory of a Jira backfill of 10,000 and of 100,000 issues, each in a process
// of its own (bench/backfill-process.ts), against fakes without latency or pacing. Memory that
// grows with the backfill's size (rather than a page's) shows as a ratio above 1. The figure is the
// heap still held after full collections; the peak RSS is reported beside it.
import { figure } from './figures.ts'
import { runJiraBackfill, sampleIssues, startJiraFakes, UNPACED } from './jira-run.ts'
import { type BenchContext, round, type Section } from './section.ts'

// The fake answers embeddings of this size: 100,000 vectors of 1024 values would not fit the
// fakes' process. A page's vectors are smaller for it, so growth with size stands out more.
const DIMENSION = 8
const MB = 1024 * 1024

async function peak(context: BenchContext, issues: number) {
  const now = new Date()
  const fakes = await startJiraFakes(sampleIssues(4, issues, now), {
    latencies: false,
    embedDimension: DIMENSION,
    now,
  })
  try {
    context.progress(`${issues} issues in 4 projects, one worker…`)
    const run = await runJiraBackfill(context.server, fakes, {
      workers: 1,
      budgets: UNPACED,
      measureHeap: true,
    })
    if (run.status !== 'succeeded' || run.itemsWritten < issues) {
      throw new Error(
        `the backfill of ${issues} ended ${run.status} with ${run.itemsWritten} written`,
      )
    }
    context.progress(
      `  ${(run.elapsedMs / 1000).toFixed(1)} s, peak RSS ${(run.maxRssBytes / MB).toFixed(0)} MB, heap ${(run.heapPeakBytes / MB).toFixed(0)} MB`,
    )
    return run
  } finally {
    await fakes.close()
  }
}

/** Section d: peak memory, large ÷ small backfill. */
export const memorySection: Section = {
  name: 'memory',
  title: 'peak memory of a Jira backfill, 10× the issues',
  async run(context) {
    const [small, large] = context.quick ? [300, 3_000] : [10_000, 100_000]
    const a = await peak(context, small)
    const b = await peak(context, large)
    const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`
    return [
      figure({
        id: 'memory.jira.heap-ratio',
        label: `Jira backfill peak heap, ${large} ÷ ${small} issues`,
        value: round(b.heapPeakBytes / a.heapPeakBytes),
        unit: 'x',
        target: { op: '<=', value: 1.2 },
        how: `the most heap in use after a full garbage collection (sampled every 500 ms), a ${large}-issue ÷ a ${small}-issue Jira backfill (4 projects, one worker, each in its own process, fakes without latency or pacing, embeddings of ${DIMENSION} values): ${mb(b.heapPeakBytes)} ÷ ${mb(a.heapPeakBytes)}; peak RSS ${mb(b.maxRssBytes)} ÷ ${mb(a.maxRssBytes)} (RSS also holds the garbage a longer run lets V8 keep between collections); ${(b.elapsedMs / 1000).toFixed(0)} s and ${(a.elapsedMs / 1000).toFixed(0)} s`,
      }),
    ]
  },
}
