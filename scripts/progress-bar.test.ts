import { describe, expect, it } from 'vitest'
import { renderJobRow, renderProgress } from './progress-bar.ts'

const progress = {
  chunksTotal: 8,
  chunksDone: 3,
  chunksFailed: 1,
  itemsFetched: 1300,
  itemsWritten: 1234,
  itemsFailed: 0,
  ratePerSecond: 56.4,
  etaSeconds: 80,
  lastError: null,
  warnings: [],
}

describe('renderProgress', () => {
  it('fills the bar by finished chunks and shows counts, rate, ETA and status', () => {
    expect(renderProgress({ status: 'running', progress }, 8)).toBe(
      '[####....]  4/8 chunks · 1,234 written · 56/s · ETA 1m20s · running',
    )
  })

  it('shows failed items and leaves out an unknown rate and ETA', () => {
    const line = renderProgress(
      {
        status: 'queued',
        progress: {
          ...progress,
          chunksDone: 0,
          chunksFailed: 0,
          itemsFailed: 7,
          ratePerSecond: null,
          etaSeconds: null,
        },
      },
      4,
    )
    expect(line).toBe('[....]  0/8 chunks · 1,234 written · 7 failed · queued')
  })
})

describe('renderJobRow', () => {
  it('shows the id, the creation minute in UTC and a short bar', () => {
    const job = {
      id: '00000000-0000-4000-8000-000000000001',
      createdAt: '2026-06-01T12:34:56.789Z',
      status: 'succeeded' as const,
      progress: { ...progress, chunksDone: 8, chunksFailed: 0, etaSeconds: null },
    }
    expect(renderJobRow(job)).toBe(
      '00000000-0000-4000-8000-000000000001  2026-06-01 12:34  [############]  8/8 chunks · 1,234 written · 56/s · succeeded',
    )
  })
})
