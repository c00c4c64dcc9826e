// The local stack the soak runs against, composed as `npm start` composes it: an embedded
// PostgreSQL (in a process of its own, so the soak can restart it), the fake upstreams seeded with
// a sample organisation, the Upstash bridge in front of Redis, and the web functions of project.yml
// served with DigitalOcean's URLs and event shapes (docs/ARCHITECTURE.md, "Local run and tests").
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { applyMigrations } from '#db/migrate.ts'
import { type FakeGoogle, startFakeGoogle } from '#sandbox/fakes/google.ts'
import { type FakeJira, startFakeJira } from '#sandbox/fakes/jira.ts'
import { type JiraUser, sampleOrganisation } from '#sandbox/fakes/jira-data.ts'
import { type FakePinecone, startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import { type FakeTempo, startFakeTempo } from '#sandbox/fakes/tempo.ts'
import { sampleWorklogs } from '#sandbox/fakes/tempo-data.ts'
import { freePort } from '#sandbox/ports.ts'
import { startUpstashBridge, type UpstashBridge } from '#sandbox/upstash-bridge.ts'
import { adminQuery, withDatabase } from '#test/database-server.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import { invokeWeb, type Main, toAnswer, webEventOf } from '../scripts/local-platform.ts'
import { ROOT, readFunctions } from '../scripts/project.ts'

const DAY_MS = 86_400_000

/** An embedded PostgreSQL in a child process that can be stopped and started on the same port. */
export type PostgresProcess = {
  /** the `agent_pm` database */
  url: string
  /** Stops the server (fast shutdown: connections are cut) and starts it again on its data. */
  restart(): Promise<void>
  stop(): Promise<void>
}

async function spawnPostgres(dataDir: string, port: number): Promise<ChildProcess> {
  const script = join(ROOT, 'sandbox', 'embedded-postgres-process.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C meant for the soak must not stop the database under it.
    detached: true,
  })
  const output: string[] = []
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.startsWith('READY ')) {
        resolve()
      }
    })
    child.once('exit', (code) =>
      reject(new Error(`embedded PostgreSQL exited (${code}): ${output.join('').slice(-500)}`)),
    )
  })
  return child
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return
  }
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

/** Starts PostgreSQL on a fresh data directory with the `agent_pm` database migrated. */
export async function startPostgresProcess(dataDir: string): Promise<PostgresProcess> {
  const port = await freePort()
  let child = await spawnPostgres(dataDir, port)
  const server = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
  await adminQuery(server, 'create database agent_pm')
  const url = withDatabase(server, 'agent_pm')
  await applyMigrations(url)
  return {
    url,
    async restart() {
      await stopChild(child)
      child = await spawnPostgres(dataDir, port)
    },
    stop: () => stopChild(child),
  }
}

/** The sample organisation's size. */
export type StackSize = { projects: number; issues: number; worklogs: number; days: number }

/** The running stack and the handles the soak turns. */
export type Stack = {
  /** `http://127.0.0.1:<port>/api/v1/web/local` */
  base: string
  postgres: PostgresProcess
  jira: FakeJira
  tempo: FakeTempo
  pinecone: FakePinecone
  google: FakeGoogle
  /** Every sample person, by account id (Tempo authors are named through Jira's users). */
  users: JiraUser[]
  /** Admin keys: three the chaos clients use, one for the operator's final reconcile, one for a fuzzer. */
  adminKeys: { chaos: string[]; operator: string; fuzz: string }
  /** The environment the functions read (also given to worker processes). */
  env: Record<string, string>
  /** The first day with sample worklogs (YYYY-MM-DD). */
  firstDay: string
  stop(): Promise<void>
}

function dateOnly(date: Date): string {
  return date.toISOString().slice(0, 10)
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

async function serveWebFunctions(namespace: string): Promise<Server> {
  const functions: Array<ReturnType<typeof readFunctions>[number] & { main: Main }> = []
  for (const fn of readFunctions().filter((candidate) => candidate.web !== false)) {
    const module = (await import(fn.source)) as { main: Main }
    functions.push({ ...fn, main: module.main })
  }
  const prefix = `/api/v1/web/${namespace}/`
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const [pkg, name, ...rest] = url.pathname.startsWith(prefix)
        ? url.pathname.slice(prefix.length).split('/')
        : []
      const fn = functions.find((candidate) => candidate.pkg === pkg && candidate.name === name)
      const body = await readBody(req)
      if (!fn) {
        const answer = toAnswer({ statusCode: 404, body: { error: 'not found' } })
        res.writeHead(answer.status, answer.headers).end(answer.body)
        return
      }
      const event = webEventOf(req, {
        path: rest.length ? `/${rest.join('/')}` : '',
        search: url.search,
        body,
      })
      const { answer } = await invokeWeb(fn, fn.main, event, namespace)
      res.writeHead(answer.status, answer.headers).end(answer.body)
    })()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return server
}

/**
 * Starts the stack and points this process's environment at it (the web functions read it).
 * @example const stack = await startStack({ seed: 7, size: { projects: 3, issues: 240, worklogs: 900, days: 120 } })
 */
export async function startStack(options: {
  seed: number
  size: StackSize
  redisUrl?: string
}): Promise<Stack> {
  // Under .data/ (git-ignored), readable by the `postgres` user PostgreSQL runs as under root.
  await mkdir(join(ROOT, '.data'), { recursive: true })
  const dir = await mkdtemp(join(ROOT, '.data', 'soak-'))
  await chmod(dir, 0o755)
  const postgres = await startPostgresProcess(join(dir, 'postgres'))
  const now = new Date()
  const today = new Date(`${dateOnly(now)}T00:00:00.000Z`)
  const org = sampleOrganisation({
    seed: options.seed,
    projects: options.size.projects,
    issues: options.size.issues,
    users: 12,
    now: today,
  })
  const jira = await startFakeJira({ now })
  jira.setIssues(org.issues)
  jira.setUsers(org.users)
  const tempo = await startFakeTempo({ jiraBaseUrl: jira.url })
  tempo.setNow(now)
  const firstDay = dateOnly(new Date(today.getTime() - options.size.days * DAY_MS))
  tempo.setWorklogs(
    sampleWorklogs({
      seed: options.seed,
      count: options.size.worklogs,
      issues: org.issues.map((issue) => ({ id: issue.id, projectId: issue.fields.project.id })),
      accountIds: org.users.map((user) => user.accountId),
      from: firstDay,
      to: dateOnly(today),
      now, // nothing stamped in the future, or a later edit would look older than it
    }),
  )
  const pinecone = await startFakePinecone()
  const google = await startFakeGoogle()
  let bridge: UpstashBridge | undefined
  if (options.redisUrl) {
    bridge = await startUpstashBridge({ redisUrl: options.redisUrl, token: 'soak-bridge-token' })
  }
  const newKey = () => randomBytes(32).toString('base64url')
  const adminKeys = { chaos: [newKey(), newKey(), newKey()], operator: newKey(), fuzz: newKey() }
  const digest = (key: string) => createHash('sha256').update(key).digest('hex')
  const env: Record<string, string> = {
    APP_ENV: 'development',
    LOG_LEVEL: 'silent',
    DATABASE_URL: postgres.url,
    DB_POOL_MAX: '2',
    JWT_SECRET_KEY: randomBytes(48).toString('base64'),
    ADMIN_API_KEY_SHA256: [...adminKeys.chaos, adminKeys.operator, adminKeys.fuzz]
      .map(digest)
      .join(','),
    GOOGLE_CLIENT_ID: google.clientId,
    GOOGLE_JWKS_URL: google.jwksUrl,
    ALLOWED_EMAIL_DOMAINS: 'example.com',
    ADMIN_EMAILS: 'admin@example.com,lead@example.com,ops@example.com',
    ...upstreamEnv({ jira, tempo, pinecone }),
    ...(bridge && {
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: 'soak-bridge-token',
    }),
  }
  Object.assign(process.env, env)
  const server = await serveWebFunctions('local')
  const port = (server.address() as AddressInfo).port
  return {
    base: `http://127.0.0.1:${port}/api/v1/web/local`,
    postgres,
    jira,
    tempo,
    pinecone,
    google,
    users: org.users,
    adminKeys,
    env,
    firstDay,
    async stop() {
      server.closeAllConnections()
      server.close()
      await Promise.allSettled([jira, tempo, pinecone, google].map((fake) => fake.close()))
      await bridge?.close()
      await postgres.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
