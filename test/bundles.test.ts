import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildAll } from '../scripts/build.ts'
import { testEnv } from './config.ts'
import { useTestDatabase } from './database.ts'
import { aWebEvent } from './events.ts'
import { node22Binary } from './node22.ts'

const ROOT = join(import.meta.dirname, '..')
const getDatabase = useTestDatabase()

type Built = { pkg: string; name: string; bundle: string }
let built: Built[] = []
let node22 = ''

beforeAll(async () => {
  built = await buildAll({ quiet: true })
  node22 = node22Binary(ROOT)
}, 180_000)

// Loads a bundle in a fresh process, as the platform does, and invokes `main` once.
function invoke(
  node: string,
  bundle: string,
  event: unknown,
): { statusCode?: number; body?: unknown } & Record<string, unknown> {
  const script = `
    const { main } = require(process.argv[1]);
    const deadline = Date.now() + 20000;
    const context = { activationId: 'bundle-test-0001', deadline, getRemainingTimeInMillis: () => deadline - Date.now() };
    Promise.resolve(main(JSON.parse(process.argv[2]), context)).then(
      (result) => { process.stdout.write(JSON.stringify(result)); process.exit(0) },
      (err) => { process.stderr.write(String(err)); process.exit(2) })`
  const env = {
    PATH: process.env.PATH,
    ...testEnv({ DATABASE_URL: getDatabase().url, LOG_LEVEL: 'silent' }),
  }
  const out = execFileSync(node, ['-e', script, bundle, JSON.stringify(event)], {
    env,
    encoding: 'utf8',
  })
  return JSON.parse(out)
}

const cases: Array<{
  fn: string
  event: unknown
  expect: (result: Record<string, unknown>) => void
}> = [
  { fn: 'v1/health', event: aWebEvent(), expect: (r) => expect(r.statusCode).toBe(200) },
  {
    fn: 'v1/openapi',
    event: aWebEvent(),
    expect: (r) => expect(r.body).toMatchObject({ openapi: '3.1.1' }),
  },
  {
    fn: 'v1/login',
    event: aWebEvent({ method: 'POST', rawBody: '{"credential":' }),
    expect: (r) => expect(r.statusCode).toBe(400),
  },
  {
    fn: 'v1/backfill-jira',
    event: aWebEvent({ method: 'POST', body: {} }),
    expect: (r) => expect(r.statusCode).toBe(401),
  },
  {
    fn: 'v1/backfill-tempo',
    event: aWebEvent({ method: 'GET' }),
    expect: (r) => expect(r.statusCode).toBe(401),
  },
  {
    fn: 'jobs/worker',
    event: { trigger: 'worker' },
    expect: (r) => expect(r.ok, JSON.stringify(r)).toBe(true),
  },
  {
    fn: 'jobs/sync',
    event: { trigger: 'sync' },
    expect: (r) => expect(r.ok, JSON.stringify(r)).toBe(true),
  },
  {
    fn: 'jobs/cleanup',
    event: { trigger: 'cleanup' },
    expect: (r) => expect(r.ok, JSON.stringify(r)).toBe(true),
  },
]

describe('built bundles', () => {
  it('writes one CommonJS file per function of project.yml', () => {
    expect(built.map((fn) => `${fn.pkg}/${fn.name}`).sort()).toEqual(cases.map((c) => c.fn).sort())
  })

  it('keeps every bundle under 500 KB (512,000 bytes): its size is most of its cold start', () => {
    for (const fn of built) {
      expect(statSync(fn.bundle).size, `${fn.pkg}/${fn.name}`).toBeLessThan(500 * 1024)
    }
  })

  it('loads no module, not even a built-in one, when the platform requires a bundle', () => {
    // Everything a function runs is imported at its first invocation (docs/ARCHITECTURE.md,
    // "Cold start"): requiring the bundle only defines `main`.
    const script = `
      const Module = require('node:module');
      const original = Module.prototype.require;
      const loaded = [];
      Module.prototype.require = function (id) { loaded.push(id); return original.apply(this, arguments) };
      require(process.argv[1]);
      process.stdout.write(JSON.stringify(loaded.slice(1)))`
    for (const fn of built) {
      const out = execFileSync(node22, ['-e', script, fn.bundle], { encoding: 'utf8' })
      expect(JSON.parse(out), `${fn.pkg}/${fn.name}`).toEqual([])
    }
  })

  it('keeps the OpenAPI generator out of every bundle (v1/openapi carries the document as data)', () => {
    for (const fn of built) {
      const code = readFileSync(fn.bundle, 'utf8')
      expect(code, `${fn.pkg}/${fn.name}`).not.toContain('cannot be converted to JSON Schema')
      expect(code, `${fn.pkg}/${fn.name}`).not.toContain('openapi-schema-validator')
    }
  })

  for (const runtime of ['node 20 (local)', 'node 22 (nodejs:22)']) {
    describe(runtime, () => {
      for (const testCase of cases) {
        it(`${testCase.fn} loads and answers`, () => {
          const bundle = built.find((fn) => `${fn.pkg}/${fn.name}` === testCase.fn)
          expect(bundle, testCase.fn).toBeDefined()
          const node = runtime.startsWith('node 22') ? node22 : process.execPath
          testCase.expect(invoke(node, bundle?.bundle ?? '', testCase.event))
        })
      }
    })
  }
})
