import { describe, expect, it } from 'vitest'
import { cronMatches } from './cron.ts'

describe('cronMatches', () => {
  it('matches the three triggers of project.yml at the right minutes only', () => {
    expect(cronMatches('* * * * *', new Date('2026-01-01T00:07:00Z'))).toBe(true)
    expect(cronMatches('30 6 * * *', new Date('2026-01-01T06:30:00Z'))).toBe(true)
    expect(cronMatches('30 6 * * *', new Date('2026-01-01T07:30:00Z'))).toBe(false)
    expect(cronMatches('15 * * * *', new Date('2026-01-01T13:15:00Z'))).toBe(true)
    expect(cronMatches('15 * * * *', new Date('2026-01-01T13:16:00Z'))).toBe(false)
  })

  it('supports steps, ranges and lists', () => {
    expect(cronMatches('*/5 * * * *', new Date('2026-01-01T00:10:00Z'))).toBe(true)
    expect(cronMatches('*/5 * * * *', new Date('2026-01-01T00:11:00Z'))).toBe(false)
    expect(cronMatches('0 9-17 * * 1-5', new Date('2026-01-05T12:00:00Z'))).toBe(true)
    expect(cronMatches('0 9-17 * * 1-5', new Date('2026-01-04T12:00:00Z'))).toBe(false)
    expect(cronMatches('0,30 * * * *', new Date('2026-01-04T12:30:00Z'))).toBe(true)
  })
})
