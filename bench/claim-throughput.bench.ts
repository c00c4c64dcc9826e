// Claim-and-complete throughput of our queue beside pg-boss v10 doing the same work, on the same
// PostgreSQL in the same run: per iteration, 1,000 units of work are inserted in one statement,
// then 8 concurrent workers claim one unit at a time and complete it, until none is left. Every
// iteration runs both queues, one after the other and in turn first, so that the varying load of a
// shared machine weighs on both alike.
// Run: DATABASE_URL=postgres://… npm run bench -- bench/claim-throughput.bench.ts
import { randomUUID } from 'node:crypto'
import PgBoss from 'pg-boss'
import { afterAll, beforeAll, bench, describe } from 'vitest'
import { createJobQueue } from '#core/jobs/queue.ts'
import { useTestDatabase } from '#test/database.ts'

const UNITS = 1_000
const WORKERS = 8
const options = { iterations: 5, warmupIterations: 0, time: 0, warmupTime: 0 }

const getDatabase = useTestDatabase({ poolMax: 10 })
let boss: PgBoss
const timings: Record<'ours' | 'pgBoss', number[]> = { ours: [], pgBoss: [] }

beforeAll(async () => {
  boss = new PgBoss({
    connectionString: getDatabase().url,
    max: 10,
    supervise: false,
    schedule: false,
  })
  boss.on('error', () => {})
  await boss.start()
  await boss.createQueue('bench')
})

afterAll(async () => {
  await boss.stop({ graceful: false, wait: true })
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0
  const perSecond = (ms: number) => UNITS / (ms / 1000)
  const ours = perSecond(median(timings.ours))
  const theirs = perSecond(median(timings.pgBoss))
  const runs = (values: number[]) => values.map((ms) => perSecond(ms).toFixed(0)).join(', ')
  process.stdout.write(
    `\nclaim+complete, ${WORKERS} workers, ${UNITS} units (median of ${timings.ours.length} runs):\n` +
      `  our queue ${ours.toFixed(0)}/s, pg-boss ${theirs.toFixed(0)}/s, ratio ${(ours / theirs).toFixed(2)}×\n` +
      `  runs/s: ours ${runs(timings.ours)}; pg-boss ${runs(timings.pgBoss)}\n`,
  )
})

async function timed(into: number[], work: () => Promise<void>): Promise<void> {
  const started = performance.now()
  await work()
  into.push(performance.now() - started)
}

async function ours(): Promise<void> {
  const jobs = createJobQueue(getDatabase().pool)
  const kind = `bench-${randomUUID()}`
  await jobs.enqueue({
    kind,
    params: {},
    scopes: Array.from({ length: UNITS }, (_, n) => ({ n })),
    createdBy: 'bench',
  })
  await timed(timings.ours, async () => {
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        for (;;) {
          const claimed = await jobs.claim({ kinds: [kind], leaseMs: 60_000 })
          if (!claimed) {
            return
          }
          await jobs.complete(claimed.lease)
        }
      }),
    )
  })
}

async function pgBoss(): Promise<void> {
  await boss.insert(Array.from({ length: UNITS }, (_, n) => ({ name: 'bench', data: { n } })))
  await timed(timings.pgBoss, async () => {
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        for (;;) {
          const [job] = await boss.fetch('bench')
          if (!job) {
            return
          }
          await boss.complete('bench', job.id)
        }
      }),
    )
  })
}

describe(`claim and complete: ${WORKERS} workers, ${UNITS} units`, () => {
  bench(
    'our queue (job_chunks) and pg-boss v10, in turn',
    async () => {
      const turn = timings.ours.length % 2 === 0 ? [ours, pgBoss] : [pgBoss, ours]
      for (const run of turn) {
        await run()
      }
    },
    options,
  )
})
