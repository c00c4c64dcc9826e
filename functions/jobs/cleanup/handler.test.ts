import { describe, expect, it } from 'vitest'
import { scheduledEntry } from '#core/platform/scheduled-entry.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext } from '#test/events.ts'
import { testServices } from '#test/services.ts'
import { createCleanupHandler } from './handler.ts'

const getDatabase = useTestDatabase()

// A job finished `ageDays` ago (null: never finished), with two chunks.
async function aJob(name: string, status: string, ageDays: number | null): Promise<void> {
  const { pool } = getDatabase()
  await pool.query(
    `WITH job AS (
       INSERT INTO jobs (kind, status, created_by, created_at, finished_at)
       VALUES ($1, $2, 'test', now() - make_interval(days => 60),
         CASE WHEN $3::int IS NULL THEN NULL ELSE now() - make_interval(days => $3::int) END)
       RETURNING id)
     INSERT INTO job_chunks (job_id, seq, scope, status)
     SELECT job.id, n, '{}', CASE WHEN $2 IN ('queued', 'running') THEN 'queued' ELSE $2 END
     FROM job, generate_series(0, 1) AS n`,
    [name, status, ageDays],
  )
}

describe('jobs/cleanup', () => {
  describe('happy', () => {
    it('deletes only finished jobs past retention, with their chunks', async () => {
      const cases: Array<[string, string, number | null, 'deleted' | 'kept']> = [
        ['succeeded-8d', 'succeeded', 8, 'deleted'],
        ['succeeded-6d', 'succeeded', 6, 'kept'],
        ['cancelled-8d', 'cancelled', 8, 'deleted'],
        ['failed-8d', 'failed', 8, 'kept'],
        ['failed-29d', 'failed', 29, 'kept'],
        ['failed-31d', 'failed', 31, 'deleted'],
        ['running-old', 'running', null, 'kept'],
        ['queued-old', 'queued', null, 'kept'],
      ]
      for (const [name, status, age] of cases) {
        await aJob(name, status, age)
      }
      const services = testServices({ database: getDatabase(), env: { JOB_RETENTION_DAYS: '7' } })
      const main = scheduledEntry({
        name: 'jobs/cleanup',
        services: () => services,
        handler: (s) => createCleanupHandler(s),
      })
      const result = await main({ trigger: 'cleanup' }, aContext())
      expect(result).toMatchObject({ ok: true, function: 'jobs/cleanup', deletedJobs: 3 })

      const { pool } = getDatabase()
      const left = await pool.query<{ kind: string }>('SELECT kind FROM jobs ORDER BY kind')
      const kept = cases.filter((c) => c[3] === 'kept').map((c) => c[0])
      expect(left.rows.map((row) => row.kind)).toEqual([...kept].sort())
      const orphans = await pool.query(
        'SELECT count(*)::int AS n FROM job_chunks c WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = c.job_id)',
      )
      expect(orphans.rows[0]?.n).toBe(0)
      const chunks = await pool.query('SELECT count(*)::int AS n FROM job_chunks')
      expect(chunks.rows[0]?.n).toBe(kept.length * 2)

      const again = await main({ trigger: 'cleanup' }, aContext())
      expect(again).toMatchObject({ ok: true, deletedJobs: 0 })
    })
  })
})
