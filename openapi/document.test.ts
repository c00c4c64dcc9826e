import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { beforeAll, describe, expect, it } from 'vitest'
import { AppError, toErrorResponse } from '#core/errors.ts'
import type { HttpHandler } from '#core/http/types.ts'
import { parseInput } from '#core/validation/parse.ts'
import { jobVersion } from '#pipelines/backfill/long-poll.ts'
import { JobQuery, ListQuery } from '#pipelines/backfill/routes.ts'
import { BackfillJiraInput } from '#pipelines/jira/inputs.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { tempoBackfillInput } from '#pipelines/tempo/inputs.ts'
import { useTestDatabase } from '#test/database.ts'
import { aRequest, aUser } from '#test/harness.ts'
import { testServices } from '#test/services.ts'
import { createBackfillJiraHandler } from '../functions/v1/backfill-jira/handler.ts'
import { createBackfillTempoHandler } from '../functions/v1/backfill-tempo/handler.ts'
import { createHealthHandler } from '../functions/v1/health/handler.ts'
import { createLoginHandler, toUserView } from '../functions/v1/login/handler.ts'
import { createOpenApiHandler } from '../functions/v1/openapi/handler.ts'
import { openApiText } from '../scripts/openapi.ts'
import { readFunctions } from '../scripts/project.ts'
import { ERROR_CODES } from './answers.ts'
import { buildOpenApiDocument } from './document.ts'

const ROOT = join(import.meta.dirname, '..')
const getDatabase = useTestDatabase()

type Doc = {
  paths: Record<string, Record<string, unknown>>
  components: { schemas: Record<string, unknown> }
}
const doc = buildOpenApiDocument() as Doc
const METHODS = ['get', 'post', 'delete'] as const

// Every component in one JSON Schema document (`$defs`), so references resolve as in the document.
function componentValidator() {
  // strictRequired off: the Tempo start's `not: { anyOf: [{ required }] }` names properties its
  // parent schema defines.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true })
  addFormats.default(ajv)
  const text = JSON.stringify(doc.components.schemas).replaceAll(
    '#/components/schemas/',
    'urn:agent-pm:components#/$defs/',
  )
  ajv.addSchema({ $id: 'urn:agent-pm:components', $defs: JSON.parse(text) })
  return {
    ajv,
    /** Whether `value` is valid against the component `name`. */
    valid: (name: string, value: unknown) =>
      ajv.validate({ $ref: `urn:agent-pm:components#/$defs/${name}` }, value),
    errors: () => ajv.errorsText(),
  }
}

describe('openapi.json', () => {
  it('is what `npm run openapi` writes from the schemas today (run it after changing them)', () => {
    const committed = readFileSync(join(ROOT, 'openapi.json'), 'utf8')
    expect(committed, 'openapi.json is stale: run `npm run openapi` and commit it').toBe(
      openApiText(),
    )
  })

  it('is valid OpenAPI 3.1 by the validator package, and a broken copy is not', async () => {
    const result = await new Validator().validate(structuredClone(doc))
    expect(result.errors).toBeUndefined()
    expect(result.valid).toBe(true)
    const broken = structuredClone(doc) as unknown as {
      paths: Record<string, { get: { responses: Record<string, unknown> } }>
    }
    const get = broken.paths['/v1/login']?.get
    if (get) {
      get.responses['200'] = { content: {} } // a response needs a description
    }
    expect((await new Validator().validate(broken)).valid).toBe(false)
  })

  it('holds valid JSON Schema 2020-12 in every component, all of them compiling together', () => {
    const { ajv } = componentValidator()
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      expect(ajv.validateSchema(schema as object), `${name}: ${ajv.errorsText()}`).toBe(true)
    }
    expect(() => ajv.compile({ $ref: 'urn:agent-pm:components#/$defs/Job' })).not.toThrow()
  })

  it('describes every web function of project.yml', () => {
    const web = readFunctions().filter((fn) => fn.web !== false)
    for (const fn of web) {
      expect(Object.keys(doc.paths), `${fn.pkg}/${fn.name}`).toContain(`/${fn.pkg}/${fn.name}`)
    }
    const functions = new Set(Object.keys(doc.paths).map((path) => path.split('/')[2]))
    expect([...functions].sort()).toEqual(web.map((fn) => fn.name).sort())
  })

  it('lists the closed set of error codes with the statuses the functions answer', () => {
    // Pinned: a code or status changed is an API change, to be made here on purpose.
    expect(
      Object.fromEntries(ERROR_CODES.map((code) => [code, new AppError(code, 'x').status])),
    ).toEqual({
      BAD_REQUEST: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      ACCESS_PENDING: 403,
      ACCOUNT_DISABLED: 403,
      NOT_FOUND: 404,
      METHOD_NOT_ALLOWED: 405,
      CONFLICT: 409,
      PAYLOAD_TOO_LARGE: 413,
      UNSUPPORTED_MEDIA_TYPE: 415,
      RATE_LIMITED: 429,
      INTERNAL: 500,
      UPSTREAM_FAILED: 502,
      UNAVAILABLE: 503,
    })
    const error = doc.components.schemas.Error as {
      properties: { error: { properties: { code: { enum: string[] } } } }
    }
    expect(error.properties.error.properties.code.enum).toEqual(ERROR_CODES)
    expect(ERROR_CODES).toHaveLength(14)
  })
})

describe('the document against the functions', () => {
  let handlers: Record<string, HttpHandler> = {}
  beforeAll(() => {
    const services = testServices({ database: getDatabase() })
    const registry = createPipelineRegistry(services)
    handlers = {
      login: createLoginHandler(services),
      'backfill-jira': createBackfillJiraHandler({ ...services, registry }),
      'backfill-tempo': createBackfillTempoHandler({ ...services, registry }),
      health: createHealthHandler(services),
      openapi: createOpenApiHandler(doc),
    }
  })

  /** The methods a function's router allows on `path` (from its 405 answer to PUT). */
  async function allowed(fn: string, path: string): Promise<string[]> {
    const handler = handlers[fn]
    if (!handler) {
      throw new Error(`no handler for ${fn}`)
    }
    const refused = await handler(aRequest({ method: 'PUT', path })).catch((err: unknown) => err)
    expect(refused, `${fn}${path}`).toBeInstanceOf(AppError)
    const allow = (refused as AppError).headers?.Allow ?? ''
    return allow
      .split(', ')
      .filter((method) => method !== 'OPTIONS')
      .sort()
  }

  it('documents exactly the methods each route accepts', async () => {
    const id = '00000000-0000-4000-8000-000000000000'
    for (const [path, item] of Object.entries(doc.paths)) {
      const [, , fn, ...rest] = path.split('/')
      const sub = rest.length ? `/${rest.join('/').replace('{jobId}', id)}` : ''
      const documented = METHODS.filter((method) => method in item)
        .map((method) => method.toUpperCase())
        .sort()
      expect(await allowed(fn ?? '', sub), path).toEqual(documented)
    }
  })

  it('describes real answers: a job with its version, a user, an error for every code', async () => {
    const { valid, errors } = componentValidator()
    const services = testServices({ database: getDatabase() })
    const queued = await services.jobs.enqueue({
      kind: 'backfill-jira',
      params: { days: 30, projects: ['OPS'] },
      scopes: [{ project: 'OPS' }],
      createdBy: 'test',
    })
    const shown = { job: queued.job, version: jobVersion(queued.job) }
    expect(valid('JobShown', shown), errors()).toBe(true)
    expect(valid('JobList', { jobs: [queued.job] }), errors()).toBe(true)
    expect(valid('JobAccepted', { job: queued.job, url: '/x' }), errors()).toBe(true)
    expect(valid('Job', { ...queued.job, status: 'paused' })).toBe(false)
    const user = toUserView(await aUser(getDatabase().db, { role: 'admin' }))
    expect(valid('Me', { user }), errors()).toBe(true)
    expect(valid('Session', { token: 't', expiresAt: user.createdAt, user }), errors()).toBe(true)
    for (const code of ERROR_CODES) {
      const { body } = toErrorResponse(new AppError(code, 'x', { details: { a: 1 } }), 'req-1')
      expect(valid('Error', body), `${code}: ${errors()}`).toBe(true)
    }
    expect(valid('Error', { error: { code: 'TEAPOT', message: 'x', requestId: 'r' } })).toBe(false)
  })
})

describe('hand-written parts agree with the schemas the functions validate with', () => {
  const { valid } = componentValidator()
  const accepts = (schema: Parameters<typeof parseInput>[0], value: unknown) => {
    try {
      parseInput(schema, value)
      return true
    } catch {
      return false
    }
  }

  it('days: integers 1–3650', () => {
    for (const days of [-1, 0, 1, 2.5, 30, 3650, 3651, 99999]) {
      expect(valid('JiraBackfillStart', { days }), String(days)).toBe(
        accepts(BackfillJiraInput, { days }),
      )
    }
  })

  it('projects: 1–100 Jira keys', () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `P${i}`)
    for (const projects of [[], ['OPS'], ['ops'], ['OPS', 'OPS'], keys(100), keys(101), ['A-1']]) {
      expect(valid('JiraBackfillStart', { projects }), JSON.stringify(projects)).toBe(
        accepts(BackfillJiraInput, { projects }),
      )
    }
  })

  it('Tempo: days, or from and to together, never both', () => {
    const tempo = tempoBackfillInput(() => '2026-06-01')
    const from = '2026-01-01'
    const to = '2026-01-31'
    for (const input of [
      {},
      { days: 30 },
      { from, to },
      { from },
      { to },
      { days: 30, from, to },
      { days: 30, to },
      { from: '2026-1-1', to },
      { from, to, extra: 1 },
    ]) {
      expect(valid('TempoBackfillStart', input), JSON.stringify(input)).toBe(accepts(tempo, input))
    }
  })

  it('query numbers: waitSeconds 0–20 and limit 1–100', () => {
    const param = (path: string, name: string) => {
      const get = doc.paths[path]?.get as { parameters: Array<{ name: string; schema: object }> }
      const parameters = get?.parameters ?? []
      const found = parameters.find((p) => p.name === name)
      expect(found, name).toBeDefined()
      return found?.schema ?? {}
    }
    const ajv = new Ajv2020()
    const wait = ajv.compile(param('/v1/backfill-jira/{jobId}', 'waitSeconds'))
    const limit = ajv.compile(param('/v1/backfill-jira', 'limit'))
    for (let n = -2; n <= 102; n++) {
      expect(wait(n), `waitSeconds ${n}`).toBe(accepts(JobQuery, { waitSeconds: String(n) }))
      expect(limit(n), `limit ${n}`).toBe(accepts(ListQuery, { limit: String(n) }))
    }
  })
})
