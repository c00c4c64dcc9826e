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

  it('lets the client import types from the functions, and nothing at run time but itself', () => {
    expect(
      rulesBroken({
        'client/api.ts': [
          "import type { JobView } from '#core/jobs/job-view.ts'",
          "import type { UserView } from '../functions/v1/login/handler.ts'",
          "export type { BackfillJiraInput } from '#pipelines/jira/inputs.ts'",
          "import type * as v from 'valibot'",
          "import { readJson } from './http.ts'",
          "export type Code = 'node:crypto' | 'valibot'",
          "export function f(code = 'from') {\n  return code\n}",
        ].join('\n'),
        'client/http.ts': 'export const readJson = 1',
      }),
    ).toEqual([])
    expect(
      rulesBroken({
        'client/api.ts': [
          "import { isActive } from '#core/jobs/job-view.ts'",
          "import { type JobView } from '#core/jobs/job-view.ts'",
          "import * as v from 'valibot'",
          "import { createHash } from 'node:crypto'",
          "import type { Buffer } from 'node:buffer'",
          "import type { Fake } from '#sandbox/fakes/jira.ts'",
          "const m = await import('#test/harness.ts')",
        ].join('\n'),
      }),
    ).toEqual([
      'client/api.ts: client imports only types from the functions (import type)',
      'client/api.ts: client imports only types from the functions (import type)',
      'client/api.ts: client imports no package at run time',
      'client/api.ts: client runs in browsers: no node: module',
      'client/api.ts: client runs in browsers: no node: module',
      'client/api.ts: client may not import sandbox',
      'client/api.ts: client may not import test',
    ])
  })

  it('keeps the OpenAPI generator and the client out of everything that runs in a function', () => {
    expect(
      rulesBroken({
        'openapi/document.ts': "import { SignInBody } from '../functions/v1/login/handler.ts'",
        'scripts/openapi.ts': "import { buildOpenApiDocument } from '#openapi/document.ts'",
        'scripts/backfill.ts': "import { createApiClient } from '#client/api.ts'",
        'functions/v1/openapi/index.ts': "import document from '../../../openapi.json'",
      }),
    ).toEqual([])
    expect(
      rulesBroken({
        'functions/v1/openapi/handler.ts':
          "import { buildOpenApiDocument } from '#openapi/document.ts'",
        'functions/core/http/router.ts': "import type { Api } from '#client/api.ts'",
        'openapi/document.ts': "import { createApiClient } from '#client/api.ts'",
      }),
    ).toEqual([
      'functions/v1/openapi/handler.ts: entry may not import openapi',
      'functions/core/http/router.ts: core may not import client',
      'openapi/document.ts: openapi may not import client',
    ])
  })
})
