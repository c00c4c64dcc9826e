import { type JiraIssue, parseJiraTimestamp } from './jira-data.ts'

/**
 * The JQL subset the fake Jira understands: clauses joined by AND, then an optional ORDER BY.
 * - `project = X`, `project in (A, B)` (key, id or name)
 * - `id`/`key`/`issuekey` `=` or `in (…)` (Jira treats the three as one field: id or key)
 * - `updated`/`created` with `>= <= > < =` against epoch ms, a relative `-30d` (w d h m), or a quoted
 *   `"yyyy-MM-dd[ HH:mm]"` read in UTC (the fake's user profile time zone)
 * - `ORDER BY updated|created|id|key|issuekey [ASC|DESC]`, at most 7 fields
 * Anything else (OR, NOT, parentheses, other fields, functions) is a 400, never a silent guess.
 */

export type JqlClause =
  | { kind: 'project'; values: string[] }
  | { kind: 'issue'; field: string; values: string[] }
  | { kind: 'date'; field: 'updated' | 'created'; op: DateOp; ms: number }

type DateOp = '>=' | '<=' | '>' | '<' | '='

export type JqlSortField = 'updated' | 'created' | 'id' | 'key'

export type JqlSort = { field: JqlSortField; direction: 'ASC' | 'DESC' }

export type JqlQuery = { clauses: JqlClause[]; orderBy: JqlSort[] }

export type JqlParseResult = { ok: true; query: JqlQuery } | { ok: false; message: string }

/** A position in a sorted result: one value per ORDER BY field (keys as [project, number]). */
export type SortValues = Array<number | string>

const MAX_ORDER_BY = 7
const UNIT_MS: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000 }

type Token = { kind: 'word' | 'string' | 'op' | 'punct'; text: string }

function tokenize(jql: string): Token[] | string {
  const tokens: Token[] = []
  const pattern =
    /\s*(?:(>=|<=|!=|!~|=|>|<|~)|([(),])|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s(),=<>!~"']+))/y
  let index = 0
  while (index < jql.length) {
    if (/^\s*$/.test(jql.slice(index))) {
      break
    }
    pattern.lastIndex = index
    const match = pattern.exec(jql)
    if (!match) {
      const character = jql.slice(index).trim()[0] ?? ''
      return `Error in the JQL Query: The character '${character}' is a reserved JQL character.`
    }
    index = pattern.lastIndex
    if (match[1]) {
      tokens.push({ kind: 'op', text: match[1] })
    } else if (match[2]) {
      tokens.push({ kind: 'punct', text: match[2] })
    } else if (match[3] !== undefined || match[4] !== undefined) {
      tokens.push({ kind: 'string', text: match[3] ?? match[4] ?? '' })
    } else {
      tokens.push({ kind: 'word', text: match[5] ?? '' })
    }
  }
  return tokens
}

class JqlError extends Error {
  override readonly name = 'JqlError'
}

function dateValue(token: Token, now: number): number {
  const text = token.text
  if (token.kind === 'word' && /^\d+$/.test(text)) {
    return Number(text)
  }
  const relative = /^([+-]?)(\d+)([wdhm])$/.exec(text)
  if (relative) {
    const amount = Number(relative[2]) * (UNIT_MS[relative[3] ?? 'd'] ?? 0)
    return relative[1] === '-' ? now - amount : now + amount
  }
  const absolute = /^(\d{4})[-/](\d{2})[-/](\d{2})(?: (\d{2}):(\d{2}))?$/.exec(text)
  if (token.kind === 'string' && absolute) {
    const [, y, mo, d, h = '00', mi = '00'] = absolute
    const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:00Z`)
    if (!Number.isNaN(ms)) {
      return ms
    }
  }
  throw new JqlError(
    `Date value '${text}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`,
  )
}

function parseWith(tokens: Token[], now: number): JqlQuery {
  let position = 0
  const peek = () => tokens[position]
  const next = (expected: string): Token => {
    const token = tokens[position]
    if (!token) {
      throw new JqlError(
        `Error in the JQL Query: Expecting ${expected} but reached the end of the query.`,
      )
    }
    position += 1
    return token
  }
  const isWord = (token: Token | undefined, word: string) =>
    token?.kind === 'word' && token.text.toLowerCase() === word

  function valueList(): string[] {
    if (peek()?.text !== '(') {
      throw new JqlError(
        `Error in the JQL Query: Expecting '(' but got '${peek()?.text ?? 'end'}'.`,
      )
    }
    next("'('")
    const values: string[] = []
    for (;;) {
      const value = next('a value')
      if (value.kind !== 'word' && value.kind !== 'string') {
        throw new JqlError(`Error in the JQL Query: Expecting a value but got '${value.text}'.`)
      }
      values.push(value.text)
      const separator = next("',' or ')'")
      if (separator.text === ')') {
        return values
      }
      if (separator.text !== ',') {
        throw new JqlError(
          `Error in the JQL Query: Expecting ',' or ')' but got '${separator.text}'.`,
        )
      }
    }
  }

  function clause(): JqlClause {
    const fieldToken = next('a field name')
    const field = fieldToken.text.toLowerCase()
    if (fieldToken.kind !== 'word' && fieldToken.kind !== 'string') {
      throw new JqlError(
        `Error in the JQL Query: Expecting a field name but got '${fieldToken.text}'.`,
      )
    }
    const op = next('an operator')
    const isIn = isWord(op, 'in')
    if (field === 'project' || field === 'id' || field === 'key' || field === 'issuekey') {
      if (!isIn && op.text !== '=') {
        throw new JqlError(
          `The operator '${op.text}' is not supported by the '${fieldToken.text}' field.`,
        )
      }
      const values = isIn ? valueList() : [next('a value').text]
      return field === 'project' ? { kind: 'project', values } : { kind: 'issue', field, values }
    }
    if (field === 'updated' || field === 'created') {
      if (op.kind !== 'op' || op.text === '!=' || op.text === '~' || op.text === '!~') {
        throw new JqlError(`The operator '${op.text}' is not supported by the fake for '${field}'.`)
      }
      return { kind: 'date', field, op: op.text as DateOp, ms: dateValue(next('a date'), now) }
    }
    throw new JqlError(`The fake Jira does not support the field '${fieldToken.text}' in JQL.`)
  }

  const clauses: JqlClause[] = []
  if (peek() && !isWord(peek(), 'order')) {
    clauses.push(clause())
    while (isWord(peek(), 'and')) {
      next('AND')
      clauses.push(clause())
    }
  }
  const orderBy: JqlSort[] = []
  if (isWord(peek(), 'order')) {
    next('ORDER')
    if (!isWord(next('BY'), 'by')) {
      throw new JqlError("Error in the JQL Query: Expecting 'by' after 'order'.")
    }
    do {
      if (orderBy.length > 0) {
        next("','")
      }
      const name = next('a field to order by').text.toLowerCase()
      const field = name === 'issuekey' ? 'key' : name
      if (field !== 'updated' && field !== 'created' && field !== 'id' && field !== 'key') {
        throw new JqlError(`The fake Jira cannot order by '${name}'.`)
      }
      let direction: JqlSort['direction'] = 'ASC'
      if (isWord(peek(), 'asc') || isWord(peek(), 'desc')) {
        direction = next('a direction').text.toUpperCase() as JqlSort['direction']
      }
      orderBy.push({ field, direction })
    } while (peek()?.text === ',')
  }
  const rest = peek()
  if (rest) {
    throw new JqlError(
      `Error in the JQL Query: Expecting either 'AND' or 'ORDER BY' but got '${rest.text}'.`,
    )
  }
  if (orderBy.length > MAX_ORDER_BY) {
    throw new JqlError(`The ORDER BY clause may have at most ${MAX_ORDER_BY} fields.`)
  }
  return { clauses, orderBy }
}

/**
 * Parses the fake's JQL subset. `now` (epoch ms) anchors relative dates such as `-30d`.
 * @example parseJql('project = OPS AND updated >= 1732877091000 ORDER BY updated ASC', now)
 */
export function parseJql(jql: string, now: number): JqlParseResult {
  const tokens = tokenize(jql)
  if (typeof tokens === 'string') {
    return { ok: false, message: tokens }
  }
  try {
    return { ok: true, query: parseWith(tokens, now) }
  } catch (err) {
    if (err instanceof JqlError) {
      return { ok: false, message: err.message }
    }
    throw err
  }
}

/** Whether `issue` satisfies every clause. */
export function matchesJql(query: JqlQuery, issue: JiraIssue): boolean {
  return query.clauses.every((clause) => {
    if (clause.kind === 'project') {
      const { id, key, name } = issue.fields.project
      return clause.values.some(
        (v) =>
          v === id ||
          v.toUpperCase() === key.toUpperCase() ||
          v.toLowerCase() === name.toLowerCase(),
      )
    }
    if (clause.kind === 'issue') {
      return clause.values.some(
        (v) => v === issue.id || v.toUpperCase() === issue.key.toUpperCase(),
      )
    }
    const value = parseJiraTimestamp(issue.fields[clause.field])
    switch (clause.op) {
      case '>=':
        return value >= clause.ms
      case '<=':
        return value <= clause.ms
      case '>':
        return value > clause.ms
      case '<':
        return value < clause.ms
      default:
        return value === clause.ms
    }
  })
}

/** The ORDER BY the fake applies: the query's, with `id` appended as a tie-breaker so paging is total. */
export function effectiveOrder(query: JqlQuery): JqlSort[] {
  const order = [...query.orderBy]
  if (!order.some((sort) => sort.field === 'id' || sort.field === 'key')) {
    order.push({ field: 'id', direction: order.at(-1)?.direction ?? 'ASC' })
  }
  return order
}

/** The issue's position under `order`; keys become `[project, number]` so `ABC-10` follows `ABC-9`. */
export function sortValues(issue: JiraIssue, order: JqlSort[]): SortValues {
  return order.flatMap((sort) => {
    switch (sort.field) {
      case 'updated':
      case 'created':
        return [parseJiraTimestamp(issue.fields[sort.field])]
      case 'id':
        return [Number(issue.id)]
      default: {
        const [project = '', number = '0'] = issue.key.split('-')
        return [project, Number(number)]
      }
    }
  })
}

/** Compares two positions under `order` (negative: `a` comes first). */
export function compareSortValues(a: SortValues, b: SortValues, order: JqlSort[]): number {
  let index = 0
  for (const sort of order) {
    const width = sort.field === 'key' ? 2 : 1
    for (let n = 0; n < width; n += 1) {
      const x = a[index + n] ?? 0
      const y = b[index + n] ?? 0
      if (x !== y) {
        const ascending = x < y ? -1 : 1
        return sort.direction === 'ASC' ? ascending : -ascending
      }
    }
    index += width
  }
  return 0
}
