/**
 * Builders for Atlassian Document Format (ADF), the JSON Jira v3 uses for descriptions and comments.
 * Shapes follow the "Atlassian Document Format" reference; `adfUnknown` and `adfMedia` exist so tests
 * prove a consumer skips what it does not understand instead of throwing.
 */

/** One ADF mark, e.g. `{ type: 'strong' }` or `{ type: 'link', attrs: { href } }`. */
export type AdfMark = { type: string; attrs?: Record<string, unknown> }

/** One ADF node (block or inline). Unknown `type`s are allowed: the schema evolves. */
export type AdfNode = {
  type: string
  text?: string
  attrs?: Record<string, unknown>
  marks?: AdfMark[]
  content?: AdfNode[]
}

/** The root of an ADF document. */
export type AdfDoc = { type: 'doc'; version: 1; content: AdfNode[] }

type Inline = AdfNode | string

function inline(parts: Inline[]): AdfNode[] {
  return parts.map((part) => (typeof part === 'string' ? adfText(part) : part))
}

/** A document of the given block nodes. @example adfDoc(adfParagraph('Fix login')) */
export function adfDoc(...content: AdfNode[]): AdfDoc {
  return { type: 'doc', version: 1, content }
}

/** A text leaf, optionally with marks (`strong`, `em`, `code`, `link`…). */
export function adfText(text: string, marks?: AdfMark[]): AdfNode {
  return marks ? { type: 'text', text, marks } : { type: 'text', text }
}

/** A text leaf with a `link` mark. */
export function adfLink(text: string, href: string): AdfNode {
  return adfText(text, [{ type: 'link', attrs: { href } }])
}

/** A paragraph; strings become text leaves. */
export function adfParagraph(...parts: Inline[]): AdfNode {
  return { type: 'paragraph', content: inline(parts) }
}

/** A heading of level 1–6. */
export function adfHeading(level: 1 | 2 | 3 | 4 | 5 | 6, ...parts: Inline[]): AdfNode {
  return { type: 'heading', attrs: { level }, content: inline(parts) }
}

function listItems(items: Array<Inline | AdfNode[]>): AdfNode[] {
  return items.map((item) => ({
    type: 'listItem',
    content: Array.isArray(item) ? item : [adfParagraph(item)],
  }))
}

/** A bullet list; each item is a string, an inline node, or the block nodes of one item. */
export function adfBulletList(...items: Array<Inline | AdfNode[]>): AdfNode {
  return { type: 'bulletList', content: listItems(items) }
}

/** An ordered list starting at `order` 1. */
export function adfOrderedList(...items: Array<Inline | AdfNode[]>): AdfNode {
  return { type: 'orderedList', attrs: { order: 1 }, content: listItems(items) }
}

/** A code block; `language` is optional in ADF. */
export function adfCodeBlock(code: string, language?: string): AdfNode {
  const node: AdfNode = { type: 'codeBlock', content: [adfText(code)] }
  if (language) {
    node.attrs = { language }
  }
  return node
}

/** An @-mention; `text` is what Jira renders, including the `@`. */
export function adfMention(accountId: string, displayName: string): AdfNode {
  return { type: 'mention', attrs: { id: accountId, text: `@${displayName}`, accessLevel: '' } }
}

/** A smart link rendered inline. */
export function adfInlineCard(url: string): AdfNode {
  return { type: 'inlineCard', attrs: { url } }
}

/** A line break inside a paragraph. */
export function adfHardBreak(): AdfNode {
  return { type: 'hardBreak' }
}

/** An attached image (`mediaSingle` › `media`): no text to extract. */
export function adfMedia(id: string): AdfNode {
  return {
    type: 'mediaSingle',
    attrs: { layout: 'center' },
    content: [
      { type: 'media', attrs: { id, type: 'file', collection: '', width: 640, height: 480 } },
    ],
  }
}

/** A node type no consumer knows yet, with optional children a tolerant walker still reads. */
export function adfUnknown(type: string, ...content: AdfNode[]): AdfNode {
  return content.length > 0 ? { type, attrs: { future: true }, content } : { type }
}
