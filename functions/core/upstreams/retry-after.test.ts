import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { retryAfterMsOf } from './retry-after.ts'

const NOW = Date.parse('2026-06-01T12:00:30.000Z')

function headers(entries: Record<string, string>): Headers {
  return new Headers(entries)
}

describe('retryAfterMsOf', () => {
  it('reads Retry-After in seconds or as a date, and Jira’s minute-precision reset', () => {
    expect(retryAfterMsOf(headers({ 'retry-after': '1' }), NOW)).toBe(1000)
    expect(retryAfterMsOf(headers({ 'retry-after': '2.5' }), NOW)).toBe(2500)
    expect(retryAfterMsOf(headers({ 'retry-after': 'Mon, 01 Jun 2026 12:00:40 GMT' }), NOW)).toBe(
      10_000,
    )
    expect(retryAfterMsOf(headers({ 'x-ratelimit-reset': '2026-06-01T12:01Z' }), NOW)).toBe(30_000)
  })

  it('says nothing for a wait of 0 or a reset already past, so callers back off on their own', () => {
    expect(retryAfterMsOf(headers({ 'retry-after': '0' }), NOW)).toBeUndefined()
    expect(
      retryAfterMsOf(
        headers({ 'retry-after': '0', 'x-ratelimit-reset': '2026-06-01T12:00Z' }),
        NOW,
      ),
    ).toBeUndefined()
    expect(
      retryAfterMsOf(headers({ 'x-ratelimit-reset': '2026-06-01T12:00Z' }), NOW),
    ).toBeUndefined()
    expect(retryAfterMsOf(headers({}), NOW)).toBeUndefined()
    // A useless Retry-After does not hide a useful reset.
    expect(
      retryAfterMsOf(
        headers({ 'retry-after': '0', 'x-ratelimit-reset': '2026-06-01T12:02Z' }),
        NOW,
      ),
    ).toBe(90_000)
  })

  it('never answers a wait of 0 or less, whatever the headers say', () => {
    const header = fc.oneof(
      fc.integer({ min: -100, max: 100_000 }).map(String),
      fc.double({ min: -10, max: 100, noNaN: true }).map(String),
      fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
      fc.string(),
    )
    const reset = fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => `${d.toISOString().slice(0, 16)}Z`),
      fc.string(),
    )
    fc.assert(
      fc.property(fc.option(header), fc.option(reset), (after, at) => {
        const entries: Record<string, string> = {}
        if (after !== null) {
          entries['retry-after'] = after
        }
        if (at !== null) {
          entries['x-ratelimit-reset'] = at
        }
        const wait = retryAfterMsOf(headers(entries), NOW)
        return wait === undefined || wait > 0
      }),
    )
  })
})
