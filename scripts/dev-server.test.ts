import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useTestDatabase } from '#test/database.ts'

const getDatabase = useTestDatabase()
let server: ChildProcess | undefined
let base = '' // http://127.0.0.1:<port>/api/v1/web/local/
let origin = ''
let adminKey = ''

// The local server as `npm start` runs it, with free ports and no upstream settings (the sandbox).
beforeAll(async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'dev-server.ts')],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: getDatabase().url,
        PORT: '0',
        SANDBOX_PORT_BASE: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  server = child
  const banner: string[] = []
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      banner.push(line)
      const key = /X-Admin-Key: ([A-Za-z0-9_-]+)/.exec(line)
      if (key?.[1]) {
        adminKey = key[1]
      }
      const ready = /^try: curl (http:\/\/127\.0\.0\.1:\d+)(\/api\/v1\/web\/local\/)/.exec(line)
      if (ready?.[1] && ready[2]) {
        origin = ready[1]
        base = `${ready[1]}${ready[2]}`
        resolve()
      }
    })
    child.once('exit', (code) =>
      reject(new Error(`local server exited (${code}): ${banner.join('\n')}`)),
    )
  })
}, 120_000)

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = once(server, 'exit')
    server.kill('SIGTERM')
    await exited
  }
})

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(`${base}${path}`, init)
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
}

describe('npm start (the local server)', () => {
  it('serves liveness and the deep checks against its database and sandbox', async () => {
    const live = await call('v1/health')
    expect(live.status).toBe(200)
    expect(live.headers.get('x-request-id')).toBeTruthy()
    // One Content-Type header: fetch would join two into "application/json, application/json".
    expect(live.headers.get('content-type')).toBe('application/json')
    // Deep checks run for an admin (or a monitor token) only.
    const deep = await call('v1/health?deep=1', { headers: { 'x-admin-key': adminKey } })
    expect(deep.status, JSON.stringify(deep.body)).toBe(200)
    expect(Object.keys(deep.body.checks)).toEqual(
      expect.arrayContaining(['database', 'migrations', 'rateLimit', 'pinecone', 'queue']),
    )
  })

  it('signs in with a token from the fake Google and starts a backfill as that admin', async () => {
    const minted = await fetch(`${origin}/sandbox/google-token`, {
      method: 'POST',
      body: JSON.stringify({ email: 'admin@example.com' }),
    })
    const { credential } = (await minted.json()) as { credential: string }
    const login = await call('v1/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ credential }),
    })
    expect(login.status, JSON.stringify(login.body)).toBe(200)
    expect(login.body.user.role).toBe('admin')

    const auth = { authorization: `Bearer ${login.body.token}`, 'content-type': 'application/json' }
    const started = await call('v1/backfill-jira', {
      method: 'POST',
      headers: auth,
      body: '{"days": 30}',
    })
    expect(started.status, JSON.stringify(started.body)).toBe(202)
    const progress = await call(`v1/backfill-jira/${started.body.job.id}`, { headers: auth })
    expect(progress.status).toBe(200)
    expect(progress.body.job.progress.chunksTotal).toBeGreaterThan(0)
  })

  it('accepts the printed development admin key', async () => {
    expect(adminKey).not.toBe('')
    const list = await call('v1/backfill-tempo', { headers: { 'x-admin-key': adminKey } })
    expect(list.status, JSON.stringify(list.body)).toBe(200)
    const wrong = await call('v1/backfill-tempo', { headers: { 'x-admin-key': `${adminKey}x` } })
    expect(wrong.status).toBe(401)
  })

  it('answers preflights from localhost origins and 404 for unknown functions', async () => {
    const preflight = await call('v1/login', {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    expect((await call('v1/nothing')).status).toBe(404)
  })
})

describe('npm start when it cannot start', () => {
  it('names the step and its cause', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'dev-server.ts')],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
          PORT: '0',
        },
        encoding: 'utf8',
      },
    )
    expect(result.status).toBe(1)
    expect(result.stderr.trim()).toBe(
      'local server failed to start: applying migrations to DATABASE_URL: connect ECONNREFUSED 127.0.0.1:1',
    )
  })
})
