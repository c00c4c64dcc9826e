// `npm start`: every function of project.yml served locally with DigitalOcean's URLs, event and
// context shapes; scheduled functions on their crons; embedded PostgreSQL and the sandbox fakes
// when the environment names no real ones.
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import pg from 'pg'
import { applyMigrations } from '#db/migrate.ts'
import { startEmbeddedPostgres } from '#sandbox/embedded-postgres.ts'
import { startSandbox } from '#sandbox/sandbox.ts'
import { cronMatches } from './cron.ts'
import { ROOT, readFunctions } from './project.ts'

type Main = (event: unknown, context: unknown) => Promise<Record<string, unknown>>
type LocalFunction = ReturnType<typeof readFunctions>[number] & { main: Main }

const DATA = join(ROOT, '.data')
const say = (line = '') => process.stdout.write(`${line}\n`)

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
    say(
      existsSync(join(dataDir, 'PG_VERSION'))
        ? 'starting the embedded PostgreSQL…'
        : 'creating the embedded PostgreSQL in .data/postgres (first start only)…',
    )
    const server = await startEmbeddedPostgres({ dataDir, port: 54329 })
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    const found = await admin.query("select 1 from pg_database where datname = 'agent_pm'")
    if (found.rowCount === 0) {
      await admin.query('create database agent_pm')
    }
    await admin.end()
    process.env.DATABASE_URL = server.url.replace(/\/postgres$/, '/agent_pm')
    notes.push(
      `database: embedded PostgreSQL, data in .data/postgres (${process.env.DATABASE_URL})`,
    )
  } else {
    notes.push('database: DATABASE_URL')
  }
  say('applying migrations…')
  await applyMigrations(process.env.DATABASE_URL)
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

function context(fn: LocalFunction, namespace: string) {
  const timeout = Number(fn.limits.timeout ?? 60_000)
  const deadline = Date.now() + timeout
  return {
    functionName: `/${namespace}/${fn.pkg}/${fn.name}`,
    functionVersion: '0.0.0',
    namespace,
    activationId: randomUUID().replaceAll('-', ''),
    deadline,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  }
}

// The platform's answer: object bodies become JSON; the result may not exceed 1 MB.
function respond(res: ServerResponse, result: Record<string, unknown>) {
  const headers = (result.headers ?? {}) as Record<string, string>
  const status = Number(result.statusCode ?? (result.body === undefined ? 204 : 200))
  const body =
    result.body === undefined
      ? ''
      : typeof result.body === 'string'
        ? result.body
        : JSON.stringify(result.body)
  if (Buffer.byteLength(body) > 1024 * 1024) {
    res.writeHead(502, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({ error: 'The action produced a response that exceeded the allowed length.' }),
    )
    return
  }
  res.writeHead(status, {
    ...(body && typeof result.body !== 'string' && { 'content-type': 'application/json' }),
    ...headers,
  })
  res.end(body)
}

async function main() {
  if (existsSync(join(ROOT, '.env'))) {
    process.loadEnvFile(join(ROOT, '.env'))
  }
  const notes: string[] = []
  await ensureDatabase(notes)
  const { adminKey } = defaultSecrets(notes)
  say('starting fakes for the upstreams the environment leaves unset (if any)…')
  const sandbox = await startSandbox(notes)

  const functions: LocalFunction[] = []
  for (const fn of readFunctions()) {
    const module = (await import(fn.source)) as { main: Main }
    functions.push({ ...fn, main: module.main })
  }
  const namespace = process.env.NAMESPACE || 'local'
  const wantedPort = Number(process.env.PORT ?? 3000)
  const prefix = `/api/v1/web/${namespace}/`

  // DigitalOcean's invoke API (`doctl serverless functions invoke <pkg>/<fn>`), for any function:
  // the JSON body is the event, the answer the function's result. Runs jobs/worker now rather
  // than at the next minute.
  const invokePrefix = `/api/v1/namespaces/${namespace}/actions/`
  async function invoke(req: IncomingMessage, res: ServerResponse, name: string) {
    const fn = functions.find((candidate) => `${candidate.pkg}/${candidate.name}` === name)
    let event: unknown
    try {
      event = JSON.parse((await readBody(req)).toString('utf8') || '{}')
    } catch {
      respond(res, { statusCode: 400, body: { error: 'The body must be JSON.' } })
      return
    }
    if (!fn) {
      respond(res, { statusCode: 404, body: { error: `No function ${name}.` } })
      return
    }
    respond(res, { statusCode: 200, body: await fn.main(event, context(fn, namespace)) })
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (sandbox && (await sandbox.handle(req, res, url))) {
        return
      }
      if (req.method === 'POST' && url.pathname.startsWith(invokePrefix)) {
        await invoke(req, res, url.pathname.slice(invokePrefix.length))
        return
      }
      const [pkg, name, ...rest] = url.pathname.startsWith(prefix)
        ? url.pathname.slice(prefix.length).split('/')
        : []
      const fn = functions.find(
        (candidate) => candidate.pkg === pkg && candidate.name === name && candidate.web !== false,
      )
      if (!fn) {
        respond(res, { statusCode: 404, body: { error: 'The requested resource does not exist.' } })
        return
      }
      const body = await readBody(req)
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([key, value]) => [
          key,
          Array.isArray(value) ? value.join(', ') : (value ?? ''),
        ]),
      )
      const peer = req.socket.remoteAddress ?? '127.0.0.1'
      headers['x-forwarded-for'] = headers['x-forwarded-for']
        ? `${headers['x-forwarded-for']}, ${peer}`
        : peer
      headers['x-forwarded-proto'] = 'http'
      headers['x-request-id'] ||= randomUUID()
      const event = {
        http: {
          method: req.method ?? 'GET',
          path: rest.length ? `/${rest.join('/')}` : '',
          headers,
          queryString: url.search.replace(/^\?/, ''),
          body: body.toString('utf8'),
          isBase64Encoded: false,
        },
      }
      try {
        respond(res, await fn.main(event, context(fn, namespace)))
      } catch {
        respond(res, {
          statusCode: 502,
          body: { error: 'The action did not produce a valid response.' },
        })
      }
    })()
  })
  server.listen(wantedPort, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : wantedPort

  const scheduled = functions.filter((fn) => fn.triggers.length > 0)
  const tick = () => {
    const now = new Date()
    for (const fn of scheduled) {
      for (const trigger of fn.triggers as Array<{
        sourceDetails: { cron: string; withBody?: unknown }
      }>) {
        if (cronMatches(trigger.sourceDetails.cron, now)) {
          void fn.main(trigger.sourceDetails.withBody ?? {}, context(fn, namespace)).then(
            (result) =>
              result.ok === false &&
              say(`[cron] ${fn.pkg}/${fn.name} failed: ${JSON.stringify(result)}`),
            (err: unknown) => say(`[cron] ${fn.pkg}/${fn.name} failed: ${String(err)}`),
          )
        }
      }
    }
  }
  // Fire at the start of each minute, as the platform's scheduler does.
  setTimeout(
    () => {
      tick()
      setInterval(tick, 60_000)
    },
    60_000 - (Date.now() % 60_000),
  )

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
  say(`try: curl ${base}v1/health?deep=1`)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `local server failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(1)
})
