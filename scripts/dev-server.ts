// `npm start`: every function of project.yml served locally with DigitalOcean's URLs, event and
// context shapes; scheduled functions on their crons; embedded PostgreSQL and the sandbox fakes
// when the environment names no real ones.
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import pg from 'pg'
import { applyMigrations } from '#db/migrate.ts'
import { startEmbeddedPostgres } from '#sandbox/embedded-postgres.ts'
import { choosePort } from '#sandbox/ports.ts'
import { startSandbox } from '#sandbox/sandbox.ts'
import { cronMatches } from './cron.ts'
import { describeFailure } from './describe-failure.ts'
import {
  type Activation,
  type Answer,
  activationContext,
  invokeWeb,
  type Main,
  runActivation,
  timeoutOf,
  toAnswer,
  webEventOf,
} from './local-platform.ts'
import { ROOT, readFunctions } from './project.ts'

type LocalFunction = ReturnType<typeof readFunctions>[number] & { main: Main }

const DATA = join(ROOT, '.data')
const EMBEDDED_POSTGRES_PORT = 54329
const say = (line = '') => process.stdout.write(`${line}\n`)

/** A start-up step failed; the message says which step and why. */
class StartError extends Error {
  override readonly name = 'StartError'
}

async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    throw new StartError(`${what}: ${describeFailure(err)}`, { cause: err })
  }
}

// A value kept in .data/ so tokens and keys survive restarts of the local server.
function persisted(name: string, make: () => string): string {
  const file = join(DATA, name)
  if (existsSync(file)) {
    return readFileSync(file, 'utf8').trim()
  }
  mkdirSync(DATA, { recursive: true })
  const value = make()
  writeFileSync(file, `${value}\n`, { mode: 0o600 })
  return value
}

async function ensureDatabase(notes: string[]): Promise<void> {
  if (!process.env.DATABASE_URL) {
    const dataDir = join(DATA, 'postgres')
    const port = await choosePort(EMBEDDED_POSTGRES_PORT)
    if (port !== EMBEDDED_POSTGRES_PORT) {
      say(`port ${EMBEDDED_POSTGRES_PORT} is in use, so the embedded PostgreSQL takes ${port}`)
    }
    say(
      existsSync(join(dataDir, 'PG_VERSION'))
        ? 'starting the embedded PostgreSQL…'
        : 'creating the embedded PostgreSQL in .data/postgres (first start only)…',
    )
    const server = await step('starting the embedded PostgreSQL', () =>
      startEmbeddedPostgres({ dataDir, port }),
    )
    await step('creating the agent_pm database', async () => {
      const admin = new pg.Client({ connectionString: server.url })
      await admin.connect()
      try {
        const found = await admin.query("select 1 from pg_database where datname = 'agent_pm'")
        if (found.rowCount === 0) {
          await admin.query('create database agent_pm')
        }
      } finally {
        await admin.end()
      }
    })
    process.env.DATABASE_URL = server.url.replace(/\/postgres$/, '/agent_pm')
    notes.push(
      `database: embedded PostgreSQL, data in .data/postgres (${process.env.DATABASE_URL})`,
    )
  } else {
    notes.push('database: DATABASE_URL')
  }
  say('applying migrations…')
  const url = process.env.DATABASE_URL
  await step('applying migrations to DATABASE_URL', () => applyMigrations(url))
}

function defaultSecrets(notes: string[]): { adminKey?: string } {
  process.env.JWT_SECRET_KEY ||= persisted('dev-jwt-secret', () =>
    randomBytes(48).toString('base64'),
  )
  if (process.env.ADMIN_API_KEY_SHA256) {
    return {}
  }
  const adminKey = persisted('dev-admin-key', () => randomBytes(32).toString('base64url'))
  process.env.ADMIN_API_KEY_SHA256 = createHash('sha256').update(adminKey).digest('hex')
  notes.push('admin key: a development key from .data/dev-admin-key (header X-Admin-Key)')
  return { adminKey }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

function send(res: ServerResponse, answer: Answer) {
  res.writeHead(answer.status, answer.headers)
  res.end(answer.body)
}

// The activation record's line for a failed run, as `doctl serverless activations` would show it.
function logFailure(fn: LocalFunction, activation: Activation) {
  if (activation.kind !== 'result') {
    say(`[${fn.pkg}/${fn.name}] ${activation.message}`)
  }
}

async function main() {
  if (existsSync(join(ROOT, '.env'))) {
    await step('reading .env', async () => process.loadEnvFile(join(ROOT, '.env')))
  }
  // Deployed functions get APP_ENV=production from project.yml; locally it is development
  // unless the environment says otherwise, and the functions never guess it.
  process.env.APP_ENV ||= 'development'
  const notes: string[] = []
  await ensureDatabase(notes)
  const { adminKey } = defaultSecrets(notes)
  say('starting fakes for the upstreams the environment leaves unset (if any)…')
  const sandbox = await step('starting the sandbox', () => startSandbox(notes))

  const functions: LocalFunction[] = []
  for (const fn of readFunctions()) {
    const module = await step(
      `loading ${fn.pkg}/${fn.name}`,
      async () => (await import(fn.source)) as { main: Main },
    )
    functions.push({ ...fn, main: module.main })
  }
  const namespace = process.env.NAMESPACE || 'local'
  const wantedPort = Number(process.env.PORT ?? 3000)
  const prefix = `/api/v1/web/${namespace}/`

  // DigitalOcean's invoke API for any function: the JSON body is the event. `?blocking=true`
  // waits and answers the activation (`&result=true`: its result alone); otherwise 202 with the
  // activation id at once, the function running on, as the platform's asynchronous invocation.
  const invokePrefix = `/api/v1/namespaces/${namespace}/actions/`
  async function invoke(req: IncomingMessage, res: ServerResponse, url: URL) {
    const name = url.pathname.slice(invokePrefix.length)
    const fn = functions.find((candidate) => `${candidate.pkg}/${candidate.name}` === name)
    let event: unknown
    try {
      event = JSON.parse((await readBody(req)).toString('utf8') || '{}')
    } catch {
      send(
        res,
        toAnswer({ statusCode: 400, body: { error: 'The request content was malformed.' } }),
      )
      return
    }
    if (!fn) {
      send(
        res,
        toAnswer({ statusCode: 404, body: { error: 'The requested resource does not exist.' } }),
      )
      return
    }
    const context = activationContext(fn, namespace)
    const running = runActivation(fn.main, event, context, timeoutOf(fn)).then((activation) => {
      logFailure(fn, activation)
      return activation
    })
    if (url.searchParams.get('blocking') !== 'true') {
      send(res, toAnswer({ statusCode: 202, body: { activationId: context.activationId } }))
      return
    }
    const activation = await running
    const result = activation.kind === 'result' ? activation.result : { error: 'timeout' }
    const body =
      url.searchParams.get('result') === 'true'
        ? result
        : {
            activationId: context.activationId,
            response: { success: activation.kind === 'result', result },
          }
    send(res, toAnswer({ statusCode: 200, body }))
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (sandbox && (await sandbox.handle(req, res, url))) {
        return
      }
      if (req.method === 'POST' && url.pathname.startsWith(invokePrefix)) {
        await invoke(req, res, url)
        return
      }
      const [pkg, name, ...rest] = url.pathname.startsWith(prefix)
        ? url.pathname.slice(prefix.length).split('/')
        : []
      const fn = functions.find(
        (candidate) => candidate.pkg === pkg && candidate.name === name && candidate.web !== false,
      )
      if (!fn) {
        send(
          res,
          toAnswer({ statusCode: 404, body: { error: 'The requested resource does not exist.' } }),
        )
        return
      }
      const body = await readBody(req)
      const event = webEventOf(req, {
        path: rest.length ? `/${rest.join('/')}` : '',
        search: url.search,
        body,
      })
      const { answer, activation } = await invokeWeb(fn, fn.main, event, namespace)
      logFailure(fn, activation)
      send(res, answer)
    })()
  })
  await step(
    `listening on 127.0.0.1:${wantedPort}`,
    () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(wantedPort, '127.0.0.1', () => {
          server.off('error', reject)
          resolve()
        })
      }),
  )
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : wantedPort
  // As on DigitalOcean: the runtime names the API host and namespace, and with an access key a
  // backfill start asks for a jobs/worker run at once, here through the invoke API above. A
  // development key unless one is set; set blank, the crons alone run the workers.
  process.env.__OW_API_HOST = `http://127.0.0.1:${port}`
  process.env.__OW_NAMESPACE = namespace
  // Deployed, each worker is a container with its own connection; here the workers asked for share
  // one process, so the pool has one connection per worker that may run at once, and one more.
  process.env.DB_POOL_MAX ||= String(Number(process.env.WORKERS_MAX || 4) + 1)
  if (process.env.FUNCTIONS_ACCESS_KEY === undefined) {
    process.env.FUNCTIONS_ACCESS_KEY = `local:${randomBytes(16).toString('hex')}`
    notes.push('workers: asked for at once through the local invoke API (FUNCTIONS_ACCESS_KEY)')
  }

  const scheduled = functions.filter((fn) => fn.triggers.length > 0)
  const tick = () => {
    const now = new Date()
    for (const fn of scheduled) {
      for (const trigger of fn.triggers as Array<{
        sourceDetails: { cron: string; withBody?: unknown }
      }>) {
        if (cronMatches(trigger.sourceDetails.cron, now)) {
          const event = trigger.sourceDetails.withBody ?? {}
          const context = activationContext(fn, namespace)
          void runActivation(fn.main, event, context, timeoutOf(fn)).then((activation) => {
            logFailure(fn, activation)
            if (activation.kind === 'result' && activation.result.ok === false) {
              say(`[${fn.pkg}/${fn.name}] failed: ${JSON.stringify(activation.result)}`)
            }
          })
        }
      }
    }
  }
  // Fire at the start of each minute, as the platform's scheduler does (LOCAL_CRONS=off: never,
  // so scheduled functions run only when invoked).
  const crons = process.env.LOCAL_CRONS !== 'off'
  if (crons) {
    setTimeout(
      () => {
        tick()
        setInterval(tick, 60_000)
      },
      60_000 - (Date.now() % 60_000),
    )
  } else {
    notes.push('crons: off (LOCAL_CRONS=off); scheduled functions run when invoked')
  }

  const base = `http://127.0.0.1:${port}${prefix}`
  say('agent-pm functions, local server')
  for (const note of notes) {
    say(`  ${note}`)
  }
  say()
  say('web functions:')
  for (const fn of functions.filter((candidate) => candidate.web !== false)) {
    say(`  ${base}${fn.pkg}/${fn.name}`)
  }
  say('scheduled functions:')
  for (const fn of scheduled) {
    const crons = (fn.triggers as Array<{ sourceDetails: { cron: string } }>).map(
      (t) => t.sourceDetails.cron,
    )
    say(`  ${fn.pkg}/${fn.name}  (${crons.join(', ')} UTC)`)
  }
  if (adminKey) {
    say()
    say(`admin key (development only): X-Admin-Key: ${adminKey}`)
  }
  sandbox?.banner(say, `http://127.0.0.1:${port}`)
  say()
  const key = adminKey ? ` -H 'X-Admin-Key: ${adminKey}'` : ''
  say(`try: curl ${base}v1/health?deep=1${key}`)
}

main().catch((err: unknown) => {
  // A failed step names itself and its cause; anything else is a bug and keeps its stack.
  const reason =
    err instanceof StartError
      ? err.message
      : err instanceof Error
        ? (err.stack ?? describeFailure(err))
        : describeFailure(err)
  process.stderr.write(`local server failed to start: ${reason}\n`)
  process.exit(1)
})
