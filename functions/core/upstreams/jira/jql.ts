import { AppError } from '#core/errors.ts'

/** Jira's project key syntax; only such keys ever reach a JQL string. */
export const PROJECT_KEY = /^[A-Z][A-Z0-9_]*$/

/** The longest project key we accept, in characters. */
export const MAX_PROJECT_KEY_LENGTH = 255

/** Whether `key` is a project key that may reach JQL (`PROJECT_KEY`, at most 255 characters). */
export function isProjectKey(key: string): boolean {
  return key.length <= MAX_PROJECT_KEY_LENGTH && PROJECT_KEY.test(key)
}

/**
 * The issues of one project updated inside `[fromMs, toMs]` (epoch ms, both inclusive); `project`
 * is its key or its numeric id (an id keeps naming it across key changes).
 */
export type UpdatedWindow = { project: string; fromMs: number; toMs: number }

const PROJECT_ID = /^\d{1,18}$/

function checkProject(project: string): void {
  if (!isProjectKey(project) && !PROJECT_ID.test(project)) {
    throw new AppError('INTERNAL', 'Not a Jira project key or id.')
  }
}

// A key is quoted (a key such as `AND` is still a value); an id is a number.
function projectValue(project: string): string {
  return PROJECT_ID.test(project) ? project : `"${project}"`
}

function checkBound(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AppError('INTERNAL', `The JQL bound ${name} must be a non-negative integer.`)
  }
}

/**
 * JQL for one project's issues updated in a window, oldest first. Bounds are unquoted epoch
 * milliseconds: quoted JQL dates are minute-precision and read in the Jira user's time zone.
 * The key is validated and quoted (a key such as `AND` is still a value); `key ASC` breaks ties so
 * the order is total.
 * @throws {AppError} INTERNAL for a malformed key or bound (callers validate first; not retryable)
 * @example updatedWindowJql({ project: 'OPS', fromMs: 0, toMs: 1_750_000_000_000 })
 * // 'project = "OPS" AND updated >= 0 AND updated <= 1750000000000 ORDER BY updated ASC, key ASC'
 */
export function updatedWindowJql(window: UpdatedWindow): string {
  checkProject(window.project)
  checkBound('fromMs', window.fromMs)
  checkBound('toMs', window.toMs)
  if (window.fromMs > window.toMs) {
    throw new AppError('INTERNAL', 'The JQL window starts after it ends.')
  }
  return `project = ${projectValue(window.project)} AND updated >= ${window.fromMs} AND updated <= ${window.toMs} ORDER BY updated ASC, key ASC`
}

/**
 * JQL for every issue one project holds now, by key (for the key scan that finds deleted and moved
 * issues). The key is validated and quoted as in `updatedWindowJql`.
 * @throws {AppError} INTERNAL for a malformed key (callers validate first; not retryable)
 * @example projectKeysJql('OPS') // 'project = "OPS" ORDER BY key ASC'
 */
export function projectKeysJql(project: string): string {
  checkProject(project)
  return `project = ${projectValue(project)} ORDER BY key ASC`
}
