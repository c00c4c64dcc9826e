import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { TempoWorklog } from '#core/upstreams/tempo/client.ts'
import {
  AUTHOR_FALLBACK,
  DESCRIPTION_MAX_CHARS,
  projectKeyOf,
  type ResolvedWorklog,
  toTempoDocument,
  toWorklogRow,
} from './document.ts'

function aTempoWorklog(overrides: Partial<TempoWorklog> = {}): TempoWorklog {
  return {
    id: '4711',
    issueId: '10991',
    accountId: '712020:ab',
    authorEmail: null,
    timeSpentSeconds: 5400,
    startDate: '2025-01-06',
    startTime: '09:30:00',
    description: 'Review ABC-12',
    updatedAt: new Date('2025-01-06T10:02:11Z'),
    ...overrides,
  }
}

function resolved(overrides: Partial<ResolvedWorklog> = {}): ResolvedWorklog {
  return {
    worklog: aTempoWorklog(),
    issueKey: 'OPS-7',
    projectKey: 'OPS',
    authorName: 'Ada Lovelace',
    authorEmail: null,
    ...overrides,
  }
}

describe('tempo documents', () => {
  describe('happy', () => {
    it('builds the original id, text and metadata', () => {
      expect(toTempoDocument(resolved())).toEqual({
        id: 'tempo-4711',
        text: '[OPS-7] Time Entry - Ada Lovelace logged 1.5 hours on 2025-01-06: Review ABC-12',
        metadata: {
          worklog_id: 4711,
          issue_key: 'OPS-7',
          project_key: 'OPS',
          author_account_id: '712020:ab',
          author_name: 'Ada Lovelace',
          hours_logged: 1.5,
          worklog_date: '2025-01-06',
          timestamp: '2025-01-06T09:30:00',
          timestamp_epoch: Date.UTC(2025, 0, 6, 9, 30) / 1000,
          date: '2025-01-06',
          description: 'Review ABC-12',
          access_type: 'all',
          source: 'tempo',
          title: 'OPS-7: 1.5h by Ada Lovelace',
          content_preview:
            '[OPS-7] Time Entry - Ada Lovelace logged 1.5 hours on 2025-01-06: Review ABC-12',
        },
      })
    })

    it('leaves out the description suffix when there is none, and midnight without a time', () => {
      const doc = toTempoDocument(
        resolved({
          worklog: aTempoWorklog({ description: '', startTime: null, timeSpentSeconds: 900 }),
        }),
      )
      expect(doc.text).toBe('[OPS-7] Time Entry - Ada Lovelace logged 0.3 hours on 2025-01-06')
      expect(doc.metadata.timestamp).toBe('2025-01-06T00:00:00')
      expect(doc.metadata.hours_logged).toBe(0.25)
    })

    it('adds author_email only when there is one', () => {
      expect(toTempoDocument(resolved()).metadata).not.toHaveProperty('author_email')
      expect(
        toTempoDocument(resolved({ authorEmail: 'ada@example.com' })).metadata.author_email,
      ).toBe('ada@example.com')
    })

    it('keeps the whole description in the row and caps it in metadata', () => {
      const long = 'x'.repeat(DESCRIPTION_MAX_CHARS * 3)
      const input = resolved({ worklog: aTempoWorklog({ description: long }) })
      expect(toWorklogRow(input).description).toBe(long)
      const doc = toTempoDocument(input)
      expect(doc.metadata.description).toHaveLength(DESCRIPTION_MAX_CHARS)
      expect(doc.metadata.content_preview).toHaveLength(1000)
    })

    it('stores hours, key and name in the row', () => {
      expect(toWorklogRow(resolved({ authorName: AUTHOR_FALLBACK }))).toMatchObject({
        worklogId: '4711',
        issueId: '10991',
        issueKey: 'OPS-7',
        projectKey: 'OPS',
        hours: 1.5,
        timeSpentSeconds: 5400,
        userDisplayName: 'Unknown',
        startTime: '09:30:00',
      })
    })

    it('takes the project key from the issue key', () => {
      expect(projectKeyOf('DATA_2-17')).toBe('DATA_2')
      expect(projectKeyOf('NOKEY')).toBeUndefined()
    })
  })

  describe('errors', () => {
    it('never produces null metadata or more than 40 KB, whatever the worklog says', () => {
      const worklog = fc.record({
        id: fc.integer({ min: 1, max: 2 ** 40 }).map(String),
        issueId: fc.integer({ min: 1 }).map(String),
        accountId: fc.string({ minLength: 1, maxLength: 128 }),
        authorEmail: fc.option(fc.emailAddress(), { nil: null }),
        timeSpentSeconds: fc.integer({ min: 0, max: 86_400 * 3 }),
        startDate: fc
          .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
          .map((d) => d.toISOString().slice(0, 10)),
        startTime: fc.option(fc.constantFrom('00:00:00', '23:59:59', '09:30:00'), { nil: null }),
        description: fc.string({ maxLength: 50_000, unit: 'binary' }),
        updatedAt: fc.constant(null),
      })
      fc.assert(
        fc.property(worklog, fc.string({ maxLength: 300 }), (w, name) => {
          const doc = toTempoDocument(resolved({ worklog: w, authorName: name || AUTHOR_FALLBACK }))
          const values = Object.values(doc.metadata)
          expect(values.every((value) => value !== null && value !== undefined)).toBe(true)
          expect(Buffer.byteLength(JSON.stringify(doc.metadata))).toBeLessThan(40 * 1024)
          expect(Number.isInteger(doc.metadata.timestamp_epoch)).toBe(true)
        }),
        { numRuns: 200 },
      )
    })
  })
})
