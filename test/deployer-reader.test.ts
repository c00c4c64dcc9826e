import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SETTINGS } from '#core/config.ts'
import { readAsDeployer } from '../scripts/deployer.ts'

// The repository itself, read by the deployer's own reader (the one doctl's grew from), with a
// .env holding only what the README calls required.

const ROOT = join(import.meta.dirname, '..')
const work = mkdtempSync(join(tmpdir(), 'agent-pm-reader-'))

const REQUIRED: Record<string, string> = {
  DATABASE_URL: 'postgres://fn:pw@db.example.com:25061/pool?sslmode=require',
  JWT_SECRET_KEY: 'reader-test-secret-that-is-long-enough-01',
  GOOGLE_CLIENT_ID: 'reader-test.apps.googleusercontent.com',
  ALLOWED_EMAIL_DOMAINS: 'example.com',
  UPSTASH_REDIS_REST_URL: 'https://eu1-reader.upstash.io',
  UPSTASH_REDIS_REST_TOKEN: 'reader-test-upstash-token',
  WEB_BASE_URL: 'https://pm.example.com',
  JIRA_BASE_URL: 'https://acme.atlassian.net',
  JIRA_EMAIL: 'bot@example.com',
  JIRA_API_TOKEN: 'reader-test-jira-token',
  TEMPO_API_TOKEN: 'reader-test-tempo-token',
  PINECONE_API_KEY: 'reader-test-pinecone-key',
  PINECONE_INDEX_HOST: 'https://idx-abc.svc.pinecone.io',
}

function envFile(name: string, text: string): string {
  const file = join(work, name)
  writeFileSync(file, text)
  return file
}

const lines = (values: Record<string, string>) =>
  Object.entries(values)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n')

beforeAll(() => {
  // The reader prefers the process environment: only the .env files below may supply settings.
  for (const { name } of SETTINGS) {
    delete process.env[name]
  }
})

afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

describe("the deployer's reader on the repository", () => {
  it('reads every function with the runtime, web mode, annotations, limits and triggers we intend', async () => {
    const { project, environment } = await readAsDeployer(ROOT, {
      envPath: envFile('required.env', lines(REQUIRED)),
    })
    const byName = Object.fromEntries(project.functions.map(({ name, ...fn }) => [name, fn]))
    const web = { runtime: 'nodejs:22', web: 'raw', annotations: { 'web-custom-options': true } }
    const scheduled = { runtime: 'nodejs:22', web: false, annotations: {} }
    expect(byName).toEqual({
      'v1/login': {
        ...web,
        limits: { timeout: 15_000, memory: 256 },
        hasCode: expect.any(Boolean),
      },
      'v1/backfill-jira': {
        ...web,
        limits: { timeout: 25_000, memory: 256 },
        hasCode: expect.any(Boolean),
      },
      'v1/backfill-tempo': {
        ...web,
        limits: { timeout: 25_000, memory: 256 },
        hasCode: expect.any(Boolean),
      },
      'v1/health': {
        ...web,
        limits: { timeout: 10_000, memory: 256 },
        hasCode: expect.any(Boolean),
      },
      'v1/openapi': {
        ...web,
        limits: { timeout: 10_000, memory: 256 },
        hasCode: expect.any(Boolean),
      },
      'jobs/worker': {
        ...scheduled,
        limits: { timeout: 180_000, memory: 512 },
        hasCode: expect.any(Boolean),
      },
      'jobs/sync': {
        ...scheduled,
        limits: { timeout: 60_000, memory: 256 },
        hasCode: expect.any(Boolean),
      },
      'jobs/cleanup': {
        ...scheduled,
        limits: { timeout: 60_000, memory: 256 },
        hasCode: expect.any(Boolean),
      },
    })
    expect(project.triggers).toEqual([
      {
        name: 'jobs-cleanup-hourly',
        function: 'jobs/cleanup',
        cron: '15 * * * *',
        body: { trigger: 'cleanup' },
      },
      {
        name: 'jobs-sync-daily',
        function: 'jobs/sync',
        cron: '30 6 * * *',
        body: { trigger: 'sync' },
      },
      {
        name: 'jobs-worker-every-minute',
        function: 'jobs/worker',
        cron: '* * * * *',
        body: { trigger: 'worker' },
      },
    ])
    expect(environment).toEqual({ APP_ENV: 'production', ...REQUIRED })
  })

  it('reads a .env copied from .env.example with only the required settings filled in', async () => {
    let text = readFileSync(join(ROOT, '.env.example'), 'utf8')
    for (const [name, value] of Object.entries(REQUIRED)) {
      text = text.replace(new RegExp(`^${name}=.*$`, 'm'), `${name}=${value}`)
    }
    const { environment } = await readAsDeployer(ROOT, { envPath: envFile('example.env', text) })
    expect(environment).toEqual({ APP_ENV: 'production', ...REQUIRED })
  })

  it('stops on a blank or missing required setting and names it', async () => {
    const { PINECONE_API_KEY: _missing, ...rest } = REQUIRED
    const envPath = envFile('incomplete.env', lines({ ...rest, TEMPO_API_TOKEN: '' }))
    await expect(readAsDeployer(ROOT, { envPath })).rejects.toThrow(
      "The following substitutions could not be resolved: 'TEMPO_API_TOKEN', 'PINECONE_API_KEY'",
    )
  })
})
