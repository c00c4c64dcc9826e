// What one read of a long poll costs (functions/pipelines/backfill/long-poll.ts): the job with its
// progress, one statement, for jobs of 1, 122 (a 10-year Tempo backfill in 30-day windows) and
// 1000 chunks, a tenth of them with an error. A waiting request makes at most 40 of these.
// Run: DATABASE_URL=postgres://… npm run bench -- bench/long-poll.bench.ts
import { beforeAll, bench, describe } from 'vitest'
import { createJobQueue } from '#core/jobs/queue.ts'
import { jobVersion } from '#pipelines/backfill/long-poll.ts'
import { useTestDatabase } from '#test/database.ts'

const getDatabase = useTestDatabase()
const ids: Record<number, string> = {}
const SIZES = [1, 122, 1000]

beforeAll(async () => {
  const queue = createJobQueue(getDatabase().pool)
  for (const size of SIZES) {
    const scopes = Array.from({ length: size }, (_, n) => ({ n }))
    const { job } = await queue.enqueue({
      kind: `bench-${size}`,
      params: {},
      scopes,
      createdBy: 'bench',
    })
    ids[size] = job.id
    await getDatabase().pool.query(
      `update job_chunks set items_written = seq * 10, last_error = case when seq % 10 = 0 then 'x' end,
         status = case when seq % 2 = 0 then 'succeeded' else 'queued' end where job_id = $1`,
      [job.id],
    )
  }
})

describe('one read of a waiting long poll (getJob + version)', () => {
  for (const size of SIZES) {
    bench(
      `${size} chunks`,
      async () => {
        const job = await createJobQueue(getDatabase().pool).getJob(ids[size] ?? '')
        if (job) {
          jobVersion(job)
        }
      },
      { time: 2000, warmupTime: 200 },
    )
  }
})
