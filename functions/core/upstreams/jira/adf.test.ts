import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  adfBulletList,
  adfCodeBlock,
  adfDoc,
  adfHardBreak,
  adfHeading,
  adfInlineCard,
  adfLink,
  adfMedia,
  adfMention,
  adfOrderedList,
  adfParagraph,
  adfText,
  adfUnknown,
} from '#sandbox/fakes/adf.ts'
import { adfToText } from './adf.ts'

describe('adf to text', () => {
  it('renders paragraphs, headings, hard breaks and code as lines', () => {
    const doc = adfDoc(
      adfHeading(2, 'Steps'),
      adfParagraph('Fix the login.', adfHardBreak(), 'Context:'),
      adfCodeBlock('SELECT 1;', 'sql'),
    )
    expect(adfToText(doc)).toBe('Steps\nFix the login.\nContext:\nSELECT 1;')
  })

  it('prefixes list items, numbers ordered ones and indents nested lists', () => {
    const doc = adfDoc(
      adfBulletList('Open the page', adfText('Click save', [{ type: 'strong' }])),
      adfOrderedList('Reproduce', [adfParagraph('Fix'), adfBulletList('on staging')]),
    )
    expect(adfToText(doc)).toBe(
      '- Open the page\n- Click save\n1. Reproduce\n2. Fix\n   - on staging',
    )
  })

  it('reads mentions, links and smart links, and skips media', () => {
    const doc = adfDoc(
      adfParagraph('Ping ', adfMention('712020:x', 'Ada Lovelace'), ' please.'),
      adfParagraph(
        'See ',
        adfInlineCard('https://x.atlassian.net/browse/OPS-1'),
        ' and ',
        adfLink('docs', 'https://example.com/docs'),
      ),
      adfMedia('abc'),
    )
    expect(adfToText(doc)).toBe(
      'Ping @Ada Lovelace please.\nSee https://x.atlassian.net/browse/OPS-1 and docs (https://example.com/docs)',
    )
  })

  it('reads through unknown nodes with content and skips unknown leaves', () => {
    const doc = adfDoc(adfUnknown('futurePanel', adfParagraph('Inside.')), adfUnknown('sparkle'))
    expect(adfToText(doc)).toBe('Inside.')
  })

  it('renders tables one row per line, cells joined by a pipe', () => {
    const cell = (text: string) => ({ type: 'tableCell', content: [adfParagraph(text)] })
    const doc = {
      type: 'doc',
      version: 1,
      content: [
        {
          type: 'table',
          content: [
            { type: 'tableRow', content: [cell('a'), cell('b')] },
            { type: 'tableRow', content: [cell('c'), cell('d')] },
          ],
        },
      ],
    }
    expect(adfToText(doc)).toBe('a | b\nc | d')
  })

  it('keeps plain-string descriptions and reads null as empty', () => {
    expect(adfToText('  plain text  ')).toBe('plain text')
    expect(adfToText(null)).toBe('')
    expect(adfToText(undefined)).toBe('')
  })

  it('never throws and always returns a string, whatever JSON it is given', () => {
    const node = fc.letrec((tie) => ({
      node: fc.record(
        {
          type: fc.oneof(
            fc.constantFrom(
              'doc',
              'paragraph',
              'text',
              'bulletList',
              'orderedList',
              'listItem',
              'table',
              'tableRow',
              'tableCell',
              'mention',
              'emoji',
              'date',
              'status',
              'inlineCard',
              'expand',
              'mediaSingle',
              'hardBreak',
            ),
            fc.string(),
            fc.jsonValue(),
          ),
          text: fc.oneof(fc.string(), fc.jsonValue()),
          attrs: fc.oneof(
            fc.jsonValue(),
            fc.record({
              text: fc.jsonValue(),
              order: fc.jsonValue(),
              timestamp: fc.jsonValue(),
              url: fc.jsonValue(),
            }),
          ),
          marks: fc.oneof(
            fc.jsonValue(),
            fc.array(fc.record({ type: fc.constant('link'), attrs: fc.jsonValue() })),
          ),
          content: fc.oneof(fc.jsonValue(), fc.array(tie('node'), { maxLength: 4 })),
        },
        { requiredKeys: [] },
      ),
    })).node
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), node), (value) => {
        expect(typeof adfToText(value)).toBe('string')
      }),
      { numRuns: 1000 },
    )
  })

  it('survives pathological nesting', () => {
    let deep: Record<string, unknown> = { type: 'text', text: 'bottom' }
    for (let n = 0; n < 10_000; n += 1) {
      deep = { type: 'paragraph', content: [deep] }
    }
    expect(adfToText(deep)).toBe('')
  })
})
