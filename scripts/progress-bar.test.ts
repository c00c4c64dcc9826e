import { describe, expect, it } from 'vitest'
import { pollDelaySeconds, renderProgress } from './progress-bar.ts'

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

describe('pollDelaySeconds', () => {
  const reply = (status: number, headers: Record<string, string>) => ({
    status,
    headers: new Headers(headers),
  })

  it('spreads the remaining per-client budget over the window, keeping half of it', () => {
    expect(
      pollDelaySeconds(reply(200, { 'RateLimit-Remaining': '199', 'RateLimit-Reset': '3600' })),
    ).toBe(37)
    expect(
      pollDelaySeconds(reply(200, { 'RateLimit-Remaining': '150', 'RateLimit-Reset': '60' })),
    ).toBe(2)
    expect(
      pollDelaySeconds(reply(200, { 'RateLimit-Remaining': '3', 'RateLimit-Reset': '3000' })),
    ).toBe(60)
  })

  it("waits out a 429's Retry-After, and backs off without headers", () => {
    expect(pollDelaySeconds(reply(429, { 'Retry-After': '120' }))).toBe(120)
    expect(pollDelaySeconds(reply(503, {}))).toBe(30)
    expect(pollDelaySeconds(reply(200, {}))).toBe(20)
  })
})
