import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { SETTINGS } from '#core/config.ts'

const ROOT = join(import.meta.dirname, '..')
const project = parse(readFileSync(join(ROOT, 'project.yml'), 'utf8'))

type Fn = {
  name: string
  runtime?: string
  web?: boolean | string
  annotations?: Record<string, unknown>
  limits?: { timeout?: number; memory?: number }
  environment?: Record<string, string>
  triggers?: Array<{
    name: string
    sourceType: string
    sourceDetails: { cron: string; withBody?: unknown }
  }>
  [key: string]: unknown
}
type Pkg = { name: string; functions: Fn[]; [key: string]: unknown }
const packages = project.packages as Pkg[]
const functions = packages.flatMap((pkg) => pkg.functions.map((fn) => ({ pkg: pkg.name, fn })))

// The deployer's validators (digitalocean/functions-deployer src/util.ts).
const TOP_KEYS = ['packages', 'parameters', 'environment', 'targetNamespace']
const PACKAGE_KEYS = [
  'name',
  'functions',
  'actions',
  'environment',
  'parameters',
  'annotations',
  'web',
  'shared',
  'binding',
]
const FUNCTION_KEYS = [
  'name',
  'runtime',
  'main',
  'web',
  'webSecure',
  'environment',
  'parameters',
  'annotations',
  'limits',
  'triggers',
]
const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/

describe('project.yml', () => {
  it('uses only keys the deployer accepts', () => {
    expect(Object.keys(project).filter((key) => !TOP_KEYS.includes(key))).toEqual([])
    for (const pkg of packages) {
      expect(
        Object.keys(pkg).filter((key) => !PACKAGE_KEYS.includes(key)),
        pkg.name,
      ).toEqual([])
      for (const fn of pkg.functions) {
        expect(
          Object.keys(fn).filter((key) => !FUNCTION_KEYS.includes(key)),
          fn.name,
        ).toEqual([])
      }
    }
  })

  it('declares the eight functions of the design with an explicit runtime and limits', () => {
    expect(functions.map(({ pkg, fn }) => `${pkg}/${fn.name}`).sort()).toEqual([
      'jobs/cleanup',
      'jobs/sync',
      'jobs/worker',
      'v1/backfill-jira',
      'v1/backfill-tempo',
      'v1/health',
      'v1/login',
      'v1/openapi',
    ])
    for (const { fn } of functions) {
      expect(fn.runtime, fn.name).toBe('nodejs:22')
      expect(fn.limits?.timeout, fn.name).toBeLessThanOrEqual(900_000)
      expect(fn.limits?.memory, fn.name).toBeGreaterThanOrEqual(128)
    }
  })

  it('lets web functions answer their own preflights and keeps scheduled ones off the web', () => {
    for (const { pkg, fn } of functions) {
      if (fn.triggers?.length) {
        expect(fn.web, fn.name).toBe(false)
      } else {
        expect(pkg).toBe('v1')
        expect(fn.annotations?.['web-custom-options'], fn.name).toBe(true)
        // Web calls longer than 30 s turn asynchronous; keep the limit below that.
        expect(fn.limits?.timeout, fn.name).toBeLessThanOrEqual(30_000)
      }
    }
  })

  it('has at most three scheduler triggers, each a cron of five numeric fields', () => {
    const triggers = functions.flatMap(({ fn }) => fn.triggers ?? [])
    expect(triggers.length).toBeLessThanOrEqual(3)
    expect(new Set(triggers.map((trigger) => trigger.name)).size).toBe(triggers.length)
    for (const trigger of triggers) {
      expect(trigger.sourceType).toBe('scheduler')
      const fields = trigger.sourceDetails.cron.split(' ')
      expect(fields, trigger.name).toHaveLength(5)
      for (const field of fields) {
        expect(field, trigger.sourceDetails.cron).toMatch(CRON_FIELD)
      }
      expect(typeof trigger.sourceDetails.withBody).toBe('object')
    }
  })

  it('carries the settings every deployment needs as placeholders, and APP_ENV as production', () => {
    const text = readFileSync(join(ROOT, 'project.yml'), 'utf8')
    expect(text).not.toMatch(/^\s*parameters:/m)
    const environment = project.environment as Record<string, string>
    expect(environment.APP_ENV).toBe('production')
    const placeholders = Object.entries(environment).filter(([name]) => name !== 'APP_ENV')
    for (const [name, value] of placeholders) {
      expect(value, name).toBe(`\${${name}}`)
    }
    // A placeholder for an optional setting would stop every deployment that leaves it unset.
    const required = SETTINGS.filter((setting) => setting.requiredInProduction)
      .map((setting) => setting.name)
      .filter((name) => name !== 'APP_ENV')
    expect(placeholders.map(([name]) => name).sort()).toEqual([...required].sort())
    // The deployer substitutes anywhere in the file, comments included.
    expect(text.match(/\$\{[^}]*\}/g)?.length).toBe(placeholders.length)
  })

  it("agrees with the README's configuration table: required, optional and fixed alike", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const section = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1),
    )
    const documented = new Map<string, string>()
    for (const row of section.matchAll(/^\| ((?:`[A-Z0-9_]+`(?:, )?)+) \| (\w+) \|/gm)) {
      for (const name of (row[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)) {
        documented.set(name[1] ?? '', row[2] ?? '')
      }
    }
    const environment = project.environment as Record<string, string>
    const expected = (name: string, requiredInProduction: boolean) =>
      name in environment && !environment[name]?.startsWith('${')
        ? 'fixed'
        : requiredInProduction
          ? 'required'
          : 'optional'
    for (const { name, requiredInProduction } of SETTINGS) {
      expect(documented.get(name), `README row for ${name}`).toBe(
        expected(name, requiredInProduction),
      )
    }
    const settingNames = new Set(SETTINGS.map((setting) => setting.name))
    for (const [name, deploy] of documented) {
      expect(
        settingNames.has(name) || deploy === 'local',
        `README documents ${name} as ${deploy}`,
      ).toBe(true)
    }
  })

  it('lists every setting in .env.example', () => {
    const example = readFileSync(join(ROOT, '.env.example'), 'utf8')
    for (const { name } of SETTINGS) {
      expect(example, `.env.example lacks ${name}`).toMatch(new RegExp(`^#? ?${name}=`, 'm'))
    }
  })

  it('matches functions/: every declared function has a source and every source is declared', () => {
    for (const { pkg, fn } of functions) {
      const folder = join(ROOT, 'functions', pkg, fn.name, 'index.ts')
      const file = join(ROOT, 'functions', pkg, `${fn.name}.ts`)
      expect(existsSync(folder) || existsSync(file), `${pkg}/${fn.name} has no source`).toBe(true)
    }
    const declared = new Set(functions.map(({ pkg, fn }) => `${pkg}/${fn.name}`))
    // core/ and pipelines/ are shared code, not packages.
    const shared = new Set(['core', 'pipelines'])
    for (const pkg of readdirSync(join(ROOT, 'functions')).filter((name) => !shared.has(name))) {
      for (const entry of readdirSync(join(ROOT, 'functions', pkg), { withFileTypes: true })) {
        const name = entry.isDirectory() ? entry.name : entry.name.replace(/\.ts$/, '')
        if (entry.isFile() && entry.name.endsWith('.test.ts')) {
          continue
        }
        expect(
          declared.has(`${pkg}/${name}`),
          `functions/${pkg}/${entry.name} is not in project.yml`,
        ).toBe(true)
      }
    }
  })
})
