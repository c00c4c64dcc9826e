import { describe, expect, it } from 'vitest'
import { type JobRow, rateAndEta, toJobView } from './job-view.ts'

function aRow(overrides: Partial<JobRow> = {}): JobRow {
  return {
    id: '0b4f3f0e-8d0c-4a43-9d5b-0c5f1b1a2b3c',
    kind: 'backfill-jira',
    status: 'running',
    params: { days: 30 },
    created_at: new Date('2026-06-01T12:00:00Z'),
    started_at: new Date('2026-06-01T12:00:05Z'),
    finished_at: null,
    cancel_requested: false,
    chunks_total: 10,
    chunks_done: 4,
    chunks_failed: 0,
    items_fetched: 1_000,
    items_written: 990,
    items_failed: 10,
    elapsed_seconds: 200,
    warnings: ['Held back 3 deletions.'],
    last_error: null,
    ...overrides,
  }
}

describe('job view', () => {
  it('shows a job in camelCase with ISO times and derived rate and ETA', () => {
    expect(toJobView(aRow())).toEqual({
      id: '0b4f3f0e-8d0c-4a43-9d5b-0c5f1b1a2b3c',
      kind: 'backfill-jira',
      status: 'running',
      params: { days: 30 },
      createdAt: '2026-06-01T12:00:00.000Z',
      startedAt: '2026-06-01T12:00:05.000Z',
      finishedAt: null,
      cancelRequested: false,
      progress: {
        chunksTotal: 10,
        chunksDone: 4,
        chunksFailed: 0,
        itemsFetched: 1_000,
        itemsWritten: 990,
        itemsFailed: 10,
        ratePerSecond: 4.95,
        etaSeconds: 300, // 6 chunks left at 50 s each
        lastError: null,
        warnings: ['Held back 3 deletions.'],
      },
    })
  })

  it('has no rate before the start and no ETA before a chunk finishes or after the job did', () => {
    expect(rateAndEta(aRow({ started_at: null, elapsed_seconds: null }))).toEqual({
      ratePerSecond: null,
      etaSeconds: null,
    })
    expect(rateAndEta(aRow({ chunks_done: 0 })).etaSeconds).toBeNull()
    expect(rateAndEta(aRow({ status: 'failed', chunks_failed: 1 })).etaSeconds).toBeNull()
    expect(rateAndEta(aRow({ chunks_done: 3, chunks_failed: 1 })).etaSeconds).toBe(300)
  })
})
