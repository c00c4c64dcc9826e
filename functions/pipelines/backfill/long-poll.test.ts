import { describe, expect, it } from 'vitest'
import type { JobView } from '#core/jobs/job-view.ts'
import { jobVersion } from './long-poll.ts'

const JOB: JobView = {
  id: '00000000-0000-4000-8000-000000000001',
  kind: 'backfill-jira',
  status: 'running',
  params: { days: 30 },
  createdAt: '2026-06-01T12:00:00.000Z',
  startedAt: '2026-06-01T12:00:01.000Z',
  finishedAt: null,
  cancelRequested: false,
  progress: {
    chunksTotal: 4,
    chunksDone: 1,
    chunksFailed: 0,
    itemsFetched: 100,
    itemsWritten: 90,
    itemsFailed: 0,
    ratePerSecond: 3.5,
    etaSeconds: 120,
    lastError: null,
    warnings: [],
  },
}

describe('jobVersion', () => {
  it('stays the same while only the clock moves the rate and the ETA', () => {
    const later = { ...JOB, progress: { ...JOB.progress, ratePerSecond: 2.1, etaSeconds: 300 } }
    expect(jobVersion(later)).toBe(jobVersion(JOB))
    expect(jobVersion(JOB)).toMatch(/^[0-9a-f]{16}$/)
  })

  it('changes with anything a follower sees move: status, cancel, times, counters, last error, warnings', () => {
    const changes: JobView[] = [
      { ...JOB, status: 'succeeded' },
      { ...JOB, cancelRequested: true },
      { ...JOB, startedAt: null },
      { ...JOB, finishedAt: '2026-06-01T13:00:00.000Z' },
      ...(
        ['chunksDone', 'chunksFailed', 'itemsFetched', 'itemsWritten', 'itemsFailed'] as const
      ).map((field) => ({
        ...JOB,
        progress: { ...JOB.progress, [field]: JOB.progress[field] + 1 },
      })),
      { ...JOB, progress: { ...JOB.progress, chunksTotal: 5 } },
      { ...JOB, progress: { ...JOB.progress, lastError: 'Jira answered 503.' } },
      { ...JOB, progress: { ...JOB.progress, warnings: ['Held back 40 deletions.'] } },
    ]
    const versions = new Set([JOB, ...changes].map(jobVersion))
    expect(versions.size).toBe(changes.length + 1)
  })
})
