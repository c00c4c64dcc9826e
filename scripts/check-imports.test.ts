import { describe, expect, it } from 'vitest'
import { findViolations } from './check-imports.ts'

/** The rules broken by a tree given as path → source. */
function rulesBroken(tree: Record<string, string>): string[] {
  return findViolations(Object.keys(tree), (path) => tree[path] ?? '').map(
    (v) => `${v.from}: ${v.rule}`,
  )
}

describe('import rules', () => {
  it('allows entries → pipelines → core → db, through aliases and relative paths', () => {
    expect(
      rulesBroken({
        'functions/v1/login/index.ts': "import { x } from '#pipelines/registry.ts'",
        'functions/pipelines/registry.ts': "import { y } from '#core/services.ts'",
        'functions/core/services.ts': "import type { Z } from '../../db/schema.ts'",
        'db/schema.ts': "import { sql } from 'drizzle-orm'",
      }),
    ).toEqual([])
  })

  it('refuses each back-edge: core → pipelines, db → functions, a function → test or sandbox', () => {
    expect(
      rulesBroken({
        'functions/core/jobs/engine.ts': "import { k } from '#pipelines/jira/kinds.ts'",
        'functions/pipelines/jira/kinds.ts': "import { h } from '../../v1/login/handler.ts'",
        'db/migrate.ts': "import {\n  c,\n} from '#core/config.ts'",
        'functions/v1/login/handler.ts': "export { f } from '#test/fakes.ts'",
        'functions/core/log.ts': "const m = await import('#sandbox/fakes/jira.ts')",
        'sandbox/fakes/jira.ts': "import '#test/harness.ts'",
      }),
    ).toEqual([
      'functions/core/jobs/engine.ts: core may not import pipelines',
      'functions/pipelines/jira/kinds.ts: pipelines may not import entry',
      'db/migrate.ts: db may not import core',
      'functions/v1/login/handler.ts: entry may not import test',
      'functions/core/log.ts: core may not import sandbox',
      'sandbox/fakes/jira.ts: sandbox may not import test',
    ])
  })

  it('refuses one function importing another, and lets tests import what they test', () => {
    expect(
      rulesBroken({
        'functions/v1/login/handler.ts': "import { a } from '../backfill-jira/handler.ts'",
        'functions/v1/login/handler.test.ts': "import { useFakeGoogle } from '#test/fakes.ts'",
      }),
    ).toEqual(['functions/v1/login/handler.ts: functions never import each other'])
  })

  it('refuses folders that import each other, directly or around a loop', () => {
    expect(
      rulesBroken({
        'functions/core/auth/guard.ts': "import { u } from '#core/db/users.ts'",
        'functions/core/db/users.ts': "import { r } from '#core/rate-limit/rules.ts'",
        'functions/core/rate-limit/rules.ts': "import { g } from '#core/auth/guard.ts'",
      }),
    ).toEqual(['functions/core/auth: folders import in a cycle'])
  })
})
