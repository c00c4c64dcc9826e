import { describe, expect, it } from 'vitest'
import { CONNECTION_LOSS_MESSAGE } from '#core/errors.ts'
import { LIMITER_UNAVAILABLE_MESSAGE } from '#core/rate-limit/rules.ts'
import type { ServerError } from './clients.ts'
import { classifyServerErrors } from './outage-answers.ts'

const T = Date.parse('2026-12-03T17:00:00.000Z')
const iso = (ms: number) => new Date(T + ms).toISOString()

function answer(sentMs: number, answeredMs: number, extra: Partial<ServerError> = {}): ServerError {
  return {
    startedAt: iso(sentMs),
    at: iso(answeredMs),
    method: 'POST',
    path: '/v1/backfill-jira',
    status: 503,
    code: 'UNAVAILABLE',
    message: 'The server could not complete this request.',
    ...extra,
  }
}

const outages = {
  restarts: [{ from: T + 10_000, to: T + 20_000 }],
  faults: [{ at: T + 30_000, upstream: 'jira' }],
}

describe('the soak’s 5xx answers', () => {
  it('excuses a 503 UNAVAILABLE answered within a restart, bounds included', () => {
    const { duringRestart, unexplained } = classifyServerErrors(
      [answer(9_000, 10_000), answer(19_000, 20_000), answer(19_000, 20_001), answer(0, 9_999)],
      outages,
    )
    expect(duringRestart.map((e) => e.at)).toEqual([iso(10_000), iso(20_000)])
    expect(unexplained.map((e) => e.at)).toEqual([iso(20_001), iso(9_999)])
  })

  it('excuses a 503 UNAVAILABLE only when a fault was injected while it was in flight', () => {
    const { duringUpstreamFault, unexplained } = classifyServerErrors(
      [
        answer(29_000, 30_000),
        answer(30_000, 31_000),
        answer(28_000, 29_999),
        answer(30_001, 32_000),
        answer(25_000, 35_000, { message: 'Jira did not answer in time; try again.' }),
      ],
      outages,
    )
    expect(duringUpstreamFault).toHaveLength(3)
    expect(unexplained.map((e) => e.startedAt)).toEqual([iso(28_000), iso(30_001)])
  })

  it('never excuses a 500, a limiter failing closed or a lost connection outside a restart', () => {
    const { duringRestart, duringUpstreamFault, unexplained } = classifyServerErrors(
      [
        answer(29_000, 31_000, { status: 500, code: 'INTERNAL' }),
        answer(15_000, 15_500, { status: 500, code: 'INTERNAL' }),
        answer(29_000, 31_000, { message: LIMITER_UNAVAILABLE_MESSAGE }),
        answer(29_000, 31_000, { message: CONNECTION_LOSS_MESSAGE }),
        answer(29_000, 31_000, { status: 502, code: 'UPSTREAM_FAILED' }),
      ],
      outages,
    )
    expect([duringRestart, duringUpstreamFault]).toEqual([[], []])
    expect(unexplained).toHaveLength(5)
  })
})
