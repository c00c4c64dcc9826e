import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'

const CLI = join(import.meta.dirname, 'cli.ts')

function fuzz(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 120_000,
  })
}

describe('npm run fuzz', () => {
  it('draws its progress, prints requests by route and status, and exits 0 without violations', () => {
    const run = fuzz(['--requests', '96', '--seed', '5'], { DATABASE_URL: inject('databaseUrl') })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/\[#{24}\] {2}96\/96 requests · \d+\/s · 0 violations/)
    expect(run.stdout).toContain('target in-process · seed 5 · 96 requests')
    expect(run.stdout).toMatch(/^POST \/v1\/login {2,}/m)
    expect(run.stdout).toContain('violations: 0')
  }, 120_000)

  it('refuses a request count that is not a whole number, with exit 2', () => {
    const run = fuzz(['--requests', 'many'], { DATABASE_URL: inject('databaseUrl') })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('--requests must be a whole number of at least 1')
  })
})
