import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { JiraIssue } from '#core/upstreams/jira/client.ts'
import { cleanMetadata } from '#core/upstreams/pinecone/metadata.ts'
import { adfBulletList, adfDoc, adfParagraph } from '#sandbox/fakes/adf.ts'
import { aJiraIssue } from '#sandbox/fakes/jira-data.ts'
import { issueText, parseIssueTime, toJiraDocument } from './document.ts'

const context = {
  project: 'OPS',
  jiraBaseUrl: 'https://acme.atlassian.net',
  now: new Date('2026-06-01T12:00:00.000Z'),
}

// The fake's issue type is the wire shape; ours is what the client's schema reads from it.
function issue(overrides: Parameters<typeof aJiraIssue>[0] = {}): JiraIssue {
  return aJiraIssue(overrides) as unknown as JiraIssue
}

describe('jira document', () => {
  it('writes the original id, text template and metadata for an issue', () => {
    const doc = toJiraDocument(
      issue({
        key: 'OPS-7',
        fields: {
          summary: 'Fix login',
          description: adfDoc(adfParagraph('It breaks.'), adfBulletList('on Safari')),
          updated: '2025-10-13T12:34:56.789-0400',
          labels: ['urgent'],
        },
      }),
      context,
    )
    const text = 'Fix login\n\nIt breaks.\n- on Safari'
    expect(doc).toEqual({
      id: 'jira-OPS-7',
      text,
      metadata: {
        issue_key: 'OPS-7',
        project_key: 'OPS',
        issue_type: 'Task',
        status: 'To Do',
        priority: 'Medium',
        assignee: 'Ada Lovelace',
        reporter: 'Grace Hopper',
        timestamp: '2025-10-13T12:34:56.789000-04:00',
        timestamp_epoch: Math.floor(Date.parse('2025-10-13T16:34:56.789Z') / 1000),
        date: '2025-10-13',
        url: 'https://acme.atlassian.net/browse/OPS-7',
        access_type: 'all',
        source: 'jira',
        title: 'OPS-7: Fix login',
        content_preview: text,
      },
    })
  })

  it('adds the parent line and keys when a parent is present, and the epic key for an epic parent', () => {
    const epic = issue({ key: 'OPS-1', fields: { summary: 'Login epic' } })
    const child = issue({
      key: 'OPS-2',
      fields: {
        summary: 'Child',
        description: null,
        parent: {
          id: epic.id,
          key: 'OPS-1',
          fields: {
            summary: 'Login epic',
            status: epic.fields?.status as never,
            issuetype: { id: '10000', name: 'Epic', subtask: false, hierarchyLevel: 1 },
          },
        },
      },
    })
    const doc = toJiraDocument(child, context)
    expect(doc.text).toBe('Child\n\n\n\nParent Issue: OPS-1 - Login epic')
    expect(doc.metadata).toMatchObject({ parent_key: 'OPS-1', epic_key: 'OPS-1' })
  })

  it('adds the epic line from an epic field when Jira sends one', () => {
    const base = issue({ key: 'OPS-3', fields: { summary: 'S', description: null } })
    const withEpic = {
      ...base,
      fields: { ...base.fields, epic: { key: 'OPS-9', name: 'Payments' } },
    } as JiraIssue
    expect(issueText(withEpic)).toBe('S\n\n\n\nEpic: OPS-9 - Payments')
    expect(toJiraDocument(withEpic, context).metadata.epic_key).toBe('OPS-9')
  })

  it('falls back to the documented defaults, never to null', () => {
    const bare = { id: '1', key: 'OPS-4', fields: { summary: null, assignee: null } } as JiraIssue
    const doc = toJiraDocument(bare, context)
    expect(doc.metadata).toMatchObject({
      issue_type: 'Unknown',
      status: 'Unknown',
      priority: 'Medium',
      assignee: 'Unassigned',
      reporter: 'Unknown',
      timestamp: '2026-06-01T12:00:00.000000+00:00',
      date: '2026-06-01',
      title: 'OPS-4: ',
    })
    expect(Object.values(doc.metadata)).not.toContain(null)
  })

  it('caps the text at 8000 characters, the title at 500 and the preview at 1000', () => {
    const doc = toJiraDocument(
      issue({ key: 'OPS-5', fields: { summary: 'S'.repeat(600), description: null } }),
      context,
    )
    const long = toJiraDocument(
      issue({ key: 'OPS-6', fields: { description: adfDoc(adfParagraph('x'.repeat(20_000))) } }),
      context,
    )
    expect(doc.metadata.title).toHaveLength(500)
    expect(long.text).toHaveLength(8000)
    expect(long.metadata.content_preview).toHaveLength(1000)
  })

  it('reads Jira timestamps with any offset, and round-trips the instant', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }),
        fc.integer({ min: -12 * 60, max: 14 * 60 }).map((m) => m - (m % 15)),
        (date, offsetMinutes) => {
          const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23)
          const sign = offsetMinutes < 0 ? '-' : '+'
          const abs = Math.abs(offsetMinutes)
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`
          const parsed = parseIssueTime(`${local}${zone}`)
          expect(parsed?.ms).toBe(date.getTime())
          expect(parsed?.iso).toBe(`${local}000${zone.slice(0, 3)}:${zone.slice(3)}`)
          expect(parsed?.date).toBe(local.slice(0, 10))
        },
      ),
    )
    expect(parseIssueTime('yesterday')).toBeUndefined()
    expect(parseIssueTime(null)).toBeUndefined()
  })

  it('produces metadata Pinecone accepts unchanged', () => {
    const doc = toJiraDocument(issue({ key: 'OPS-8' }), context)
    expect(cleanMetadata(doc.metadata)).toEqual(doc.metadata)
  })
})
