import fc from 'fast-check'
import { assert, describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { parseJql } from '#sandbox/fakes/jql.ts'
import { PROJECT_KEY, projectKeysJql, updatedWindowJql } from './jql.ts'

describe('jira jql', () => {
  it('bounds one project by epoch milliseconds, oldest first with a total order', () => {
    expect(updatedWindowJql({ project: 'OPS', fromMs: 1000, toMs: 2000 })).toBe(
      'project = "OPS" AND updated >= 1000 AND updated <= 2000 ORDER BY updated ASC, key ASC',
    )
  })

  it('refuses keys outside the key syntax and bad bounds, so nothing else reaches JQL', () => {
    for (const project of ['ops', 'OPS" OR project = "X', '1AB', '', 'A B']) {
      expect(() => updatedWindowJql({ project, fromMs: 0, toMs: 1 })).toThrow(AppError)
    }
    expect(() => updatedWindowJql({ project: 'A', fromMs: -1, toMs: 1 })).toThrow(AppError)
    expect(() => updatedWindowJql({ project: 'A', fromMs: 2, toMs: 1 })).toThrow(AppError)
    expect(() => updatedWindowJql({ project: 'A', fromMs: 0.5, toMs: 1 })).toThrow(AppError)
  })

  it('builds JQL the fake parses to exactly the project and window given', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(PROJECT_KEY).filter((key) => key.length <= 20),
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.integer({ min: 0, max: 2 ** 30 }),
        (project, fromMs, span) => {
          const jql = updatedWindowJql({ project, fromMs, toMs: fromMs + span })
          const parsed = parseJql(jql, 0)
          assert(parsed.ok, `${jql}: ${JSON.stringify(parsed)}`)
          expect(parsed.query.clauses).toEqual([
            { kind: 'project', values: [project] },
            { kind: 'date', field: 'updated', op: '>=', ms: fromMs },
            { kind: 'date', field: 'updated', op: '<=', ms: fromMs + span },
          ])
        },
      ),
    )
  })

  it("lists one project's issues by key, with the key quoted and checked", () => {
    expect(projectKeysJql('OPS')).toBe('project = "OPS" ORDER BY key ASC')
    for (const project of ['ops', 'OPS" OR project = "X', '1AB', '', 'A B']) {
      expect(() => projectKeysJql(project)).toThrow(AppError)
    }
    fc.assert(
      fc.property(
        fc.stringMatching(PROJECT_KEY).filter((key) => key.length <= 20),
        (project) => {
          const parsed = parseJql(projectKeysJql(project), 0)
          assert(parsed.ok, JSON.stringify(parsed))
          expect(parsed.query).toEqual({
            clauses: [{ kind: 'project', values: [project] }],
            orderBy: [{ field: 'key', direction: 'ASC' }],
          })
        },
      ),
    )
  })
})
