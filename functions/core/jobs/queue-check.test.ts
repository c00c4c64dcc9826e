import { describe, expect, it } from 'vitest'
import { runCheck } from '#core/health/checks.ts'
import { useTestDatabase } from '#test/database.ts'
import { testServices } from '#test/services.ts'
import { queueCheck } from './queue-check.ts'

const getDatabase = useTestDatabase()

describe('queueCheck', () => {
  it('passes with an empty queue and fails when a due chunk waited over ten minutes', async () => {
    const { jobs, pool } = testServices({ database: getDatabase() })
    const now = () => Date.now()
    expect((await runCheck(queueCheck(jobs), now)).status).toBe('pass')

    const queued = await jobs.enqueue({
      kind: 'health-probe',
      params: {},
      scopes: [{ n: 1 }],
      createdBy: 'test',
    })
    expect((await runCheck(queueCheck(jobs), now)).status).toBe('pass')

    await pool.query(
      `update job_chunks set run_after = now() - interval '11 minutes' where job_id = $1`,
      [queued.job.id],
    )
    const report = await runCheck(queueCheck(jobs), now)
    expect(report.status).toBe('fail')
    expect(report.details?.oldestDueSeconds).toBeGreaterThan(600)
  })
})
