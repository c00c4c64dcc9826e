// Claim-and-complete throughput of our queue beside pg-boss v10 doing the same work, on the same
// PostgreSQL in the same run: per round, the units of work are inserted in one statement, then 8
// concurrent workers claim one unit at a time and complete it, until none is left. Rounds run both
// queues one after the other, in turn first, so that the varying load of a shared machine weighs
// on both alike; the figure is the ratio of the medians.
import { randomUUID } from 'node:crypto'
import PgBoss from 'pg-boss'
import { createJobQueue } from '#core/jobs/queue.ts'
import { figure } from './figures.ts'
import { type BenchContext, median, round, type Section } from './section.ts'

const WORKERS = 8

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await work()
  return performance.now() - started
}

async function measure(context: BenchContext) {
  const units = context.quick ? 100 : 1_000
  const rounds = context.quick ? 1 : 5
  const database = await context.server.fresh({ poolMax: 10 })
  const boss = new PgBoss({
    connectionString: database.url,
    max: 10,
    supervise: false,
    schedule: false,
  })
  boss.on('error', () => {})
  await boss.start()
  try {
    await boss.createQueue('bench')
    const jobs = createJobQueue(database.pool)
    const all = async (work: () => Promise<boolean>) => {
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (await work()) {
            // next unit
          }
        }),
      )
    }
    const ours = async () => {
      const kind = `bench-${randomUUID()}`
      const scopes = Array.from({ length: units }, (_, n) => ({ n }))
      await jobs.enqueue({ kind, params: {}, scopes, createdBy: 'bench' })
      return timed(() =>
        all(async () => {
          const claimed = await jobs.claim({ kinds: [kind], leaseMs: 60_000 })
          if (claimed) {
            await jobs.complete(claimed.lease)
          }
          return claimed !== null && claimed !== undefined
        }),
      )
    }
    const pgBoss = async () => {
      await boss.insert(Array.from({ length: units }, (_, n) => ({ name: 'bench', data: { n } })))
      return timed(() =>
        all(async () => {
          const [job] = await boss.fetch('bench')
          if (job) {
            await boss.complete('bench', job.id)
          }
          return job !== undefined
        }),
      )
    }
    const timings = { ours: [] as number[], pgBoss: [] as number[] }
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? (['ours', 'pgBoss'] as const) : (['pgBoss', 'ours'] as const)
      for (const which of order) {
        timings[which].push(await (which === 'ours' ? ours() : pgBoss()))
      }
      context.progress(
        `round ${round + 1}/${rounds}: ours ${((units / (timings.ours.at(-1) ?? 1)) * 1000) | 0}/s, pg-boss ${((units / (timings.pgBoss.at(-1) ?? 1)) * 1000) | 0}/s`,
      )
    }
    return {
      units,
      rounds,
      ours: units / (median(timings.ours) / 1000),
      pgBoss: units / (median(timings.pgBoss) / 1000),
    }
  } finally {
    await boss.stop({ graceful: false, wait: true })
    await database.drop()
  }
}

/** Section a: claim + complete against pg-boss on the same PostgreSQL. */
export const claimsSection: Section = {
  name: 'claims',
  title: 'claim + complete vs pg-boss',
  async run(context) {
    const m = await measure(context)
    const how = `${WORKERS} workers, ${m.units} units a round, median of ${m.rounds} rounds in alternating order, same PostgreSQL`
    return [
      figure({
        id: 'claims.ratio',
        label: 'claim + complete, ours ÷ pg-boss v10',
        value: round(m.ours / m.pgBoss),
        unit: 'x',
        target: { op: '>=', value: 1.2 },
        how: `${how}: ours ${Math.round(m.ours)}/s, pg-boss ${Math.round(m.pgBoss)}/s`,
      }),
    ]
  },
}
