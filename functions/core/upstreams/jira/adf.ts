/**
 * Atlassian Document Format (ADF) → readable plain text, for embedding. Blocks end with a newline,
 * list items get `- ` or `n. `, table cells are joined by ` | `, mentions read `@Name`, links keep
 * their target, media is skipped. ADF evolves: an unknown node is read through its `content` when it
 * has one and skipped otherwise, and nothing the walker is given (any JSON at all) makes it throw.
 */

type Node = Record<string, unknown>

// Deep enough for any real document; a guard against pathological nesting (and stack overflow).
const MAX_DEPTH = 64
// Jira caps a description at 32,767 characters; past this much text there is nothing to embed.
const MAX_CHARS = 100_000

const BLOCKS = new Set([
  'doc',
  'paragraph',
  'heading',
  'blockquote',
  'codeBlock',
  'panel',
  'expand',
  'nestedExpand',
  'decisionList',
  'taskList',
])
const SKIPPED = new Set(['media', 'mediaSingle', 'mediaGroup', 'mediaInline', 'extension'])

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

function childrenOf(node: Node): unknown[] {
  return Array.isArray(node.content) ? node.content : []
}

function textLeaf(node: Node): string {
  const text = str(node.text)
  const marks = Array.isArray(node.marks) ? node.marks : []
  const link = marks.find((mark) => isNode(mark) && mark.type === 'link')
  const href = isNode(link) && isNode(link.attrs) ? str(link.attrs.href) : ''
  return href && href !== text ? `${text} (${href})` : text
}

function dateText(timestamp: unknown): string {
  const ms = Number(
    typeof timestamp === 'string' || typeof timestamp === 'number' ? timestamp : Number.NaN,
  )
  const date = new Date(ms)
  return Number.isFinite(ms) && !Number.isNaN(date.getTime()) ? date.toISOString().slice(0, 10) : ''
}

function indentTail(text: string, prefix: string): string {
  const [first = '', ...rest] = text.split('\n')
  const pad = ' '.repeat(prefix.length)
  return [prefix + first, ...rest.map((line) => (line ? pad + line : line))].join('\n')
}

function list(node: Node, depth: number, ordered: boolean): string {
  const attrs = isNode(node.attrs) ? node.attrs : {}
  const start =
    typeof attrs.order === 'number' && Number.isSafeInteger(attrs.order) ? attrs.order : 1
  let n = start
  let out = ''
  for (const item of childrenOf(node)) {
    const body = render(item, depth + 1).replace(/\n+$/, '')
    if (!isNode(item) || item.type !== 'listItem') {
      out += body ? `${body}\n` : ''
      continue
    }
    out += `${indentTail(body, ordered ? `${n}. ` : '- ')}\n`
    n += 1
  }
  return out
}

function table(node: Node, depth: number): string {
  let out = ''
  for (const row of childrenOf(node)) {
    if (!isNode(row)) {
      continue
    }
    const cells = childrenOf(row).map((cell) =>
      render(cell, depth + 2)
        .replace(/\s*\n\s*/g, ' ')
        .trim(),
    )
    out += `${cells.join(' | ')}\n`
  }
  return out
}

function children(node: Node, depth: number): string {
  let out = ''
  for (const child of childrenOf(node)) {
    out += render(child, depth + 1)
    if (out.length > MAX_CHARS) {
      break
    }
  }
  return out
}

function render(value: unknown, depth: number): string {
  if (!isNode(value) || depth > MAX_DEPTH) {
    return ''
  }
  const type = str(value.type)
  const attrs = isNode(value.attrs) ? value.attrs : {}
  switch (type) {
    case 'text':
      return textLeaf(value)
    case 'hardBreak':
    case 'rule':
      return '\n'
    case 'mention': {
      const name = str(attrs.text)
      return name && !name.startsWith('@') ? `@${name}` : name
    }
    case 'emoji':
      return str(attrs.text) || str(attrs.shortName)
    case 'status':
      return str(attrs.text)
    case 'date':
      return dateText(attrs.timestamp)
    case 'inlineCard':
      return str(attrs.url)
    case 'blockCard':
    case 'embedCard':
      return str(attrs.url) ? `${str(attrs.url)}\n` : ''
    case 'bulletList':
      return list(value, depth, false)
    case 'orderedList':
      return list(value, depth, true)
    case 'table':
      return table(value, depth)
    case 'listItem':
    case 'taskItem':
    case 'decisionItem':
      return `${children(value, depth)}\n`
    default:
      break
  }
  if (SKIPPED.has(type)) {
    return ''
  }
  if (type === 'expand' || type === 'nestedExpand') {
    const title = str(attrs.title)
    return `${title ? `${title}\n` : ''}${children(value, depth)}\n`
  }
  const inner = children(value, depth)
  return BLOCKS.has(type) ? `${inner}\n` : inner
}

function tidy(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
    .slice(0, MAX_CHARS)
}

/**
 * A Jira description (an ADF document, a plain string from API v2 or an app, or null) as text.
 * Never throws, whatever JSON it is given.
 * @example adfToText({ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Hi' }] }] }) // 'Hi'
 */
export function adfToText(value: unknown): string {
  if (typeof value === 'string') {
    return tidy(value)
  }
  return tidy(render(value, 0))
}
