// One Jira backfill in a process of its own, so that its time and memory are the pipeline's alone
// (the fakes run in the parent). Its one argument is JSON (`BackfillRunSettings`); it prints one
// line of JSON (`BackfillRunResult`) when the job has ended.

import { setTimeout as sleep } from 'node:timers/promises'
import { getHeapStatistics } from 'node:v8'
import { systemClock } from '#core/clock.ts'
import { runWorker } from '#core/jobs/engine.ts'
import { startJob } from '#core/jobs/registry.ts'
import { createLogger } from '#core/log.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import { createPacer, type PaceBudget } from '#core/rate-limit/pacer.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import type { PaceBudgetName } from '#core/upstreams/pace-budgets.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { testConfig } from '#test/config.ts'

/** What the parent asks for. */
export type BackfillRunSettings = {
  databaseUrl: string
  /** the settings that point the clients at the fakes */
  env: Record<string, string>
  days: number
  /** worker invocations run side by side (each claims chunks until none is due) */
  workers: number
  budgets: Record<PaceBudgetName, PaceBudget>
  /** sample the live heap (a full collection every 500 ms: for memory runs, not timed ones) */
  measureHeap?: boolean
}

/** What the child reports. */
export type BackfillRunResult = {
  status: string
  itemsWritten: number
  /** from the first claim to the job's end (planning excluded) */
  elapsedMs: number
  /** `process.resourceUsage().maxRSS`, bytes */
  maxRssBytes: number
  /** the most heap in use after a full collection, sampled every 500 ms (0 unless asked), bytes */
  heapPeakBytes: number
  /** CPU time of the process (user and system) while the job ran, ms */
  cpuMs: number
}

async function main(settings: BackfillRunSettings): Promise<BackfillRunResult> {
  // The heap still in use after a full collection, every half second: what the process holds on
  // to, without the garbage a longer run lets pile up between collections (runs with --expose-gc).
  const gc = (globalThis as { gc?: () => void }).gc
  let heapPeak = 0
  const liveHeap = () => {
    gc?.()
    heapPeak = Math.max(heapPeak, getHeapStatistics().used_heap_size)
  }
  const sampler = settings.measureHeap ? setInterval(liveHeap, 500) : undefined
  const log = createLogger({ level: 'silent' })
  const services = createServices(
    testConfig({
      DATABASE_URL: settings.databaseUrl,
      DB_POOL_MAX: String(settings.workers * 2 + 2),
      ...settings.env,
    }),
    {
      log,
      rateLimiter: createMemoryRateLimiter(systemClock),
      pacer: createPacer({ budgets: settings.budgets }),
    },
    { upstreams: createUpstreams },
  )
  const registry = createPipelineRegistry(services)
  const started = await startJob(
    { jobs: services.jobs, registry },
    { kind: 'backfill-jira', params: { days: settings.days }, createdBy: 'bench' },
  )
  const jobId = started.job.id
  const begin = performance.now()
  const cpuBefore = process.cpuUsage()
  let job = started.job
  for (;;) {
    await Promise.all(
      Array.from({ length: settings.workers }, () =>
        runWorker({ jobs: services.jobs, registry, log, remainingMs: () => 600_000 }),
      ),
    )
    job = (await services.jobs.getJob(jobId)) ?? job
    if (job.status !== 'queued' && job.status !== 'running') {
      break
    }
    await sleep(20) // a retry's backoff has not come round yet
  }
  const elapsedMs = performance.now() - begin
  const cpu = process.cpuUsage(cpuBefore)
  clearInterval(sampler)
  if (settings.measureHeap) {
    liveHeap()
  }
  await services.pool.end()
  return {
    status: job.status,
    itemsWritten: job.progress.itemsWritten,
    elapsedMs,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapPeakBytes: heapPeak,
    cpuMs: (cpu.user + cpu.system) / 1000,
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as BackfillRunSettings).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exitCode = 1
  },
)
