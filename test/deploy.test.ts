import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { OWOptions } from '@nimbella/nimbella-deployer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SETTINGS } from '#core/config.ts'
import { type RuntimeAction, startAction } from '#sandbox/fake-nodejs-runtime.ts'
import { type FakeOpenWhisk, startFakeOpenWhisk } from '#sandbox/fake-openwhisk.ts'
import { deployProjectYaml, readProjectEnvironment } from '../scripts/deploy-project.ts'
import { deployEnvironment } from '../scripts/deploy-settings.ts'
import { loadDeployer } from '../scripts/deployer.ts'
import { useTestDatabase } from './database.ts'
import { useUpstashBridge } from './redis.ts'

// `npm run deploy -- --dry-run` with a .env of the required settings (and two optional ones),
// then the project it built deployed by the deployer to a fake DigitalOcean API host, and the
// code the fake received run the way DigitalOcean's Node runtime runs it.

const ROOT = join(import.meta.dirname, '..')
const getDatabase = useTestDatabase()
const { redisAvailable, bridge } = useUpstashBridge()
const work = mkdtempSync(join(tmpdir(), 'agent-pm-deploy-'))
const outDir = join(work, 'dist')
const WEB_ORIGIN = 'https://pm.example.com'
const SECRET = 'deploy-test-secret-that-is-long-enough-0001'
const PREVIOUS_SECRET = 'deploy-test-previous-secret-long-enough-02'

let settings: Record<string, string> = {}
let dryRun: { status: number | null; stdout: string; stderr: string }
let fake: FakeOpenWhisk
const started: RuntimeAction[] = []

function writeEnv(file: string, values: Record<string, string>) {
  writeFileSync(
    file,
    Object.entries(values)
      .map(([name, value]) => `${name}=${value}`)
      .join('\n'),
  )
}

function deployScript(args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts', 'deploy.ts'), ...args],
    // A clean environment: the settings come from the .env file alone.
    { env: { PATH: process.env.PATH, HOME: process.env.HOME }, encoding: 'utf8', cwd: ROOT },
  )
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** The values of an entity's key/value list. */
function values(list: Array<{ key: string; value: unknown }>): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => [key, value]))
}

async function deploy() {
  const deployer = loadDeployer()
  const runtimes = await deployer.load(fake.url) // as doctl does: the API host's runtime list
  const credentials = {
    namespace: fake.namespace,
    ow: { apihost: fake.url, api_key: fake.apiKey },
    storageKey: undefined,
    redis: false,
  }
  const messages: string[] = []
  const feedback = {
    warn: (...parts: unknown[]) => messages.push(parts.join(' ')),
    progress: (...parts: unknown[]) => messages.push(parts.join(' ')),
  }
  // The OpenWhisk client takes the namespace too; the deployer's type leaves it out.
  const owOptions: OWOptions & { namespace: string } = {
    apihost: fake.url,
    api_key: fake.apiKey,
    namespace: fake.namespace,
  }
  const spec = await deployer.readPrepareAndBuild(
    outDir,
    owOptions,
    credentials,
    {} as never, // the persister: unused when credentials are given
    { incremental: false, remoteBuild: false, env: join(work, '.env') } as never,
    runtimes,
    undefined,
    feedback,
  )
  if (spec.error) {
    throw spec.error
  }
  return await deployer.deploy(spec)
}

beforeAll(async () => {
  settings = {
    DATABASE_URL: getDatabase().url,
    JWT_SECRET_KEY: SECRET,
    GOOGLE_CLIENT_ID: 'deploy-test.apps.googleusercontent.com',
    ALLOWED_EMAIL_DOMAINS: 'example.com',
    // Without Redis the per-client limits find the store refused and let requests through.
    UPSTASH_REDIS_REST_URL: redisAvailable ? bridge().url : 'http://127.0.0.1:9',
    UPSTASH_REDIS_REST_TOKEN: redisAvailable ? bridge().token : 'no-redis-token',
    WEB_BASE_URL: WEB_ORIGIN,
    JIRA_BASE_URL: 'http://127.0.0.1:9/jira',
    JIRA_EMAIL: 'bot@example.com',
    JIRA_API_TOKEN: 'deploy-test-jira-token',
    TEMPO_API_TOKEN: 'deploy-test-tempo-token',
    PINECONE_API_KEY: 'deploy-test-pinecone-key',
    PINECONE_INDEX_HOST: 'http://127.0.0.1:9/pinecone',
    // Optional: two set, one blank (the default namespace), the rest absent.
    LOG_LEVEL: 'warn',
    JWT_SECRET_KEY_PREVIOUS: PREVIOUS_SECRET,
    PINECONE_NAMESPACE: '',
  }
  writeEnv(join(work, '.env'), settings)
  dryRun = deployScript([
    '--dry-run',
    '--env',
    join(work, '.env'),
    '--out',
    outDir,
    '--maps',
    join(work, 'maps'),
  ])

  // The deployer reads these once, when loaded: triggers go to DigitalOcean's API through the
  // fake, and no setting may come from this process's own environment.
  for (const name of Object.keys(process.env)) {
    if (/^(https?_proxy|proxy|no_proxy|__OW_.*)$/i.test(name)) {
      delete process.env[name]
    }
  }
  for (const { name } of SETTINGS) {
    delete process.env[name]
  }
  fake = await startFakeOpenWhisk({ namespace: 'fn-deploy-test' })
  process.env.DO_API_KEY = fake.token
  process.env.HTTPS_PROXY = fake.url
  if (dryRun.status === 0) {
    const result = await deploy()
    expect(result.failures.map((failure) => failure.message)).toEqual([])
  }
}, 120_000)

afterAll(async () => {
  await Promise.all(started.map((action) => action.close()))
  await fake?.close()
  rmSync(work, { recursive: true, force: true })
})

const FUNCTIONS = [
  'jobs/cleanup',
  'jobs/sync',
  'jobs/worker',
  'v1/backfill-jira',
  'v1/backfill-tempo',
  'v1/health',
  'v1/login',
  'v1/openapi',
]
const REQUIRED = [
  'DATABASE_URL',
  'JWT_SECRET_KEY',
  'GOOGLE_CLIENT_ID',
  'ALLOWED_EMAIL_DOMAINS',
  'UPSTASH_REDIS_REST_URL',
  'UPSTASH_REDIS_REST_TOKEN',
  'WEB_BASE_URL',
  'JIRA_BASE_URL',
  'JIRA_EMAIL',
  'JIRA_API_TOKEN',
  'TEMPO_API_TOKEN',
  'PINECONE_API_KEY',
  'PINECONE_INDEX_HOST',
]

describe('npm run deploy -- --dry-run', () => {
  it('lists the eight functions, the three triggers and the setting names, never a value', () => {
    expect(dryRun.status, dryRun.stderr + dryRun.stdout).toBe(0)
    const out = dryRun.stdout
    expect(out).toContain('functions (8):')
    for (const name of FUNCTIONS) {
      expect(out).toMatch(new RegExp(`^ {2}${name} +nodejs:22 `, 'm'))
    }
    expect(out).toContain('triggers (3):')
    expect(out).toMatch(/jobs-worker-every-minute +\* \* \* \* \* +→ jobs\/worker/)
    expect(out).toMatch(/jobs-sync-daily +30 6 \* \* \* +→ jobs\/sync/)
    expect(out).toMatch(/jobs-cleanup-hourly +15 \* \* \* \* +→ jobs\/cleanup/)
    expect(out).toContain('fixed in project.yml: APP_ENV=production')
    expect(out).toContain(`from .env: ${REQUIRED.join(', ')}`)
    expect(out).toContain('from .env: LOG_LEVEL, JWT_SECRET_KEY_PREVIOUS')
    expect(out).toMatch(/optional, unset[^\n]*PINECONE_NAMESPACE/)
    expect(out).toContain('dry run: nothing migrated or deployed.')
    for (const [name, value] of Object.entries(settings)) {
      if (value.length >= 4 && !['warn', 'example.com'].includes(value)) {
        expect(out, `${name}'s value`).not.toContain(value)
      }
    }
  })

  it('refuses a blank or missing required setting by name, and builds nothing', () => {
    const { JIRA_API_TOKEN: _dropped, ...rest } = settings
    writeEnv(join(work, 'incomplete.env'), { ...rest, WEB_BASE_URL: ' ' })
    const refused = deployScript([
      '--dry-run',
      '--env',
      join(work, 'incomplete.env'),
      '--out',
      join(work, 'never'),
    ])
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/^deploy: Missing or invalid settings: .*JIRA_API_TOKEN/m)
    expect(refused.stderr).toContain('WEB_BASE_URL')
    expect(refused.stderr).not.toContain(SECRET)
    expect(refused.stdout).not.toContain('building')
  })
})

describe('deployed to a fake DigitalOcean API host', () => {
  it('sends every function as plain code of its runtime with the annotations and limits of project.yml', () => {
    expect([...fake.actions.keys()].sort()).toEqual(FUNCTIONS)
    for (const [name, action] of fake.actions) {
      expect(action.exec.kind, name).toBe('nodejs:22')
      expect(action.exec.binary, name).toBe(false)
      expect(action.exec.code.length, name).toBeGreaterThan(10_000)
      const annotations = values(action.annotations)
      expect(annotations.final, name).toBe(true)
      if (name.startsWith('v1/')) {
        expect(annotations, name).toMatchObject({
          'web-export': true,
          'raw-http': true,
          'web-custom-options': true,
        })
        // DigitalOcean turns a web call longer than 30 s into an asynchronous one.
        expect(action.limits.timeout, name).toBeLessThanOrEqual(30_000)
      } else {
        expect(annotations['web-export'], name).not.toBe(true)
        expect(annotations['web-custom-options'], name).toBeUndefined()
      }
    }
    expect(fake.actions.get('jobs/worker')?.limits).toMatchObject({ timeout: 180_000, memory: 512 })
    expect(fake.actions.get('v1/health')?.limits).toMatchObject({ timeout: 10_000, memory: 256 })
  })

  it('sets the environment on both packages: the required settings, the optional ones set, APP_ENV=production', () => {
    expect([...fake.packages.keys()].sort()).toEqual(['jobs', 'v1'])
    for (const [name, pkg] of fake.packages) {
      const parameters = values(pkg.parameters)
      expect(Object.keys(parameters).sort(), name).toEqual(
        ['APP_ENV', ...REQUIRED, 'JWT_SECRET_KEY_PREVIOUS', 'LOG_LEVEL'].sort(),
      )
      expect(parameters.APP_ENV).toBe('production')
      expect(parameters.JWT_SECRET_KEY).toBe(SECRET)
      expect(parameters.JWT_SECRET_KEY_PREVIOUS).toBe(PREVIOUS_SECRET)
      // Environment, not parameters: the runtime exports init parameters to process.env.
      expect(pkg.parameters.every((parameter) => 'init' in parameter)).toBe(true)
    }
  })

  it("creates the three scheduled triggers through DigitalOcean's trigger API", () => {
    expect(
      [...fake.triggers.values()]
        .map((trigger) => [trigger.name, trigger.function, trigger.cron, trigger.body])
        .sort(),
    ).toEqual([
      ['jobs-cleanup-hourly', 'jobs/cleanup', '15 * * * *', { trigger: 'cleanup' }],
      ['jobs-sync-daily', 'jobs/sync', '30 6 * * *', { trigger: 'sync' }],
      ['jobs-worker-every-minute', 'jobs/worker', '* * * * *', { trigger: 'worker' }],
    ])
    expect([...fake.triggers.values()].every((trigger) => trigger.is_enabled)).toBe(true)
  })
})

describe('the deployed code, run as the Node runtime runs it', () => {
  async function container(name: string): Promise<RuntimeAction> {
    const action = fake.actions.get(name)
    const pkg = fake.packages.get(name.split('/')[0] ?? '')
    expect(action && pkg, name).toBeTruthy()
    // Init parameters become the environment, the function's own over its package's.
    const env = Object.fromEntries(
      [...(pkg?.parameters ?? []), ...(action?.parameters ?? [])].map(({ key, value }) => [
        key,
        String(value),
      ]),
    )
    const action_ = await startAction({ name, code: action?.exec.code ?? '', env })
    started.push(action_)
    return action_
  }

  function rawEvent(options: {
    method: string
    query?: string
    body?: string
    base64?: boolean
    headers?: Record<string, string>
  }) {
    const body = options.body ?? ''
    return {
      http: {
        method: options.method,
        path: '',
        headers: {
          accept: 'application/json',
          'user-agent': 'deploy-test',
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'x-request-id': 'deploy-test-request-0001',
          ...(options.body !== undefined && { 'content-type': 'application/json' }),
          ...options.headers,
        },
        queryString: options.query ?? '',
        body: options.base64 ? Buffer.from(body).toString('base64') : body,
        isBase64Encoded: options.base64 === true,
      },
    }
  }

  it('answers a GET with a query (v1/health)', async () => {
    const health = await container('v1/health')
    const result = await health.invoke(rawEvent({ method: 'GET', query: 'probe=1' }))
    expect(result.statusCode, JSON.stringify(result)).toBe(200)
    expect(result.body).toMatchObject({ status: 'ok', version: 'dev' })
    expect(health.logs.join('\n')).not.toContain(SECRET)
  })

  it('reads a POSTed JSON body as text and as base64 (v1/backfill-jira)', async () => {
    const backfill = await container('v1/backfill-jira')
    // Parsed in both forms: the caller is then refused for want of credentials, not for the body.
    for (const base64 of [false, true]) {
      const valid = await backfill.invoke(rawEvent({ method: 'POST', body: '{"days": 3}', base64 }))
      expect(valid.statusCode, JSON.stringify(valid)).toBe(401)
      const broken = await backfill.invoke(rawEvent({ method: 'POST', body: '{"days":', base64 }))
      expect(broken.statusCode, JSON.stringify(broken)).toBe(400)
    }
  })

  it('answers preflights for the configured origin only: production, whatever the .env said', async () => {
    const login = await container('v1/login')
    const preflight = (origin: string) =>
      login.invoke(
        rawEvent({
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        }),
      )
    const allowed = await preflight(WEB_ORIGIN)
    expect(allowed.statusCode).toBe(204)
    expect(allowed.headers).toMatchObject({ 'Access-Control-Allow-Origin': WEB_ORIGIN })
    const local = await preflight('http://localhost:5173')
    expect(local.headers).not.toHaveProperty('Access-Control-Allow-Origin')
  })

  it('runs a scheduled jobs/worker whose context has getRemainingTimeInMillis as a method', async () => {
    const worker = await container('jobs/worker')
    // Five seconds left is less than two of its 20 s margins: it must not claim anything.
    const short = await worker.invoke({ trigger: 'worker' }, { timeoutMs: 5_000 })
    expect(short, worker.logs.join('\n')).toMatchObject({ ok: true, stoppedBy: 'time' })
    const long = await worker.invoke({ trigger: 'worker' }, { timeoutMs: 180_000 })
    expect(long, worker.logs.join('\n')).toMatchObject({
      ok: true,
      function: 'jobs/worker',
      stoppedBy: 'idle',
    })
  })
})

describe('deployed again', () => {
  it('drops an optional setting the operator unset, at the next deployment', async () => {
    // After a key rotation the operator removes the previous key from .env.
    const { JWT_SECRET_KEY_PREVIOUS: _removed, ...remaining } = settings
    writeEnv(join(work, '.env'), remaining)
    const environment = deployEnvironment(remaining, await readProjectEnvironment())
    writeFileSync(join(outDir, 'project.yml'), await deployProjectYaml(environment))
    const result = await deploy()
    expect(result.failures.map((failure) => failure.message)).toEqual([])
    for (const pkg of fake.packages.values()) {
      expect(values(pkg.parameters)).not.toHaveProperty('JWT_SECRET_KEY_PREVIOUS')
      expect(values(pkg.parameters)).toHaveProperty('LOG_LEVEL', 'warn')
    }
    expect(fake.triggers.size).toBe(3)
  })
})
