// The benchmark's PostgreSQL: DATABASE_URL, else an embedded server (data in .data/bench-postgres),
// with a template database migrated once per run that each section clones, as the tests do.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import pg from 'pg'
import { createDatabase, type Database, type PoolLike } from '#core/db/client.ts'
import { applyMigrations } from '#db/migrate.ts'

/** One section's own database, dropped by `drop`. */
export type BenchDatabase = {
  db: Database
  pool: PoolLike
  url: string
  drop(): Promise<void>
}

/** The server and its migrated template; `fresh` clones a database per section. */
export type BenchServer = {
  url: string
  /** A new database cloned from the migrated template (`empty`: no tables, for a server that migrates). */
  fresh(options?: { poolMax?: number; empty?: boolean }): Promise<BenchDatabase>
  close(): Promise<void>
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** Connects to `url` (else starts the embedded server) and migrates a template database. */
export async function openBenchServer(url: string | undefined, root: string): Promise<BenchServer> {
  let serverUrl = url
  let stop: (() => Promise<void>) | undefined
  if (!serverUrl) {
    const embedded = await startEmbedded(join(root, '.data', 'bench-postgres'))
    serverUrl = embedded.url
    stop = embedded.stop
  }
  const template = `agent_pm_bench_${process.pid}`
  await adminQuery(serverUrl, `drop database if exists ${template} with (force)`)
  await adminQuery(serverUrl, `create database ${template}`)
  await applyMigrations(withDatabase(serverUrl, template))
  const base = serverUrl
  let next = 0
  const created = new Set<string>()
  return {
    url: base,
    async fresh(options = {}) {
      next += 1
      const name = `${template}_${next}`
      await adminQuery(
        base,
        options.empty ? `create database ${name}` : `create database ${name} template ${template}`,
      )
      created.add(name)
      const databaseUrl = withDatabase(base, name)
      const { db, pool } = createDatabase({
        url: databaseUrl,
        poolMax: options.poolMax ?? 8,
        caCert: undefined,
      })
      return {
        db,
        pool,
        url: databaseUrl,
        async drop() {
          await pool.end()
          await adminQuery(base, `drop database if exists ${name} with (force)`)
          created.delete(name)
        },
      }
    },
    async close() {
      for (const name of created) {
        await adminQuery(base, `drop database if exists ${name} with (force)`).catch(() => {})
      }
      await adminQuery(base, `drop database if exists ${template} with (force)`).catch(() => {})
      await stop?.()
    },
  }
}

async function startEmbedded(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const script = join(import.meta.dirname, '..', 'sandbox', 'embedded-postgres-process.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('READY ')) {
        resolve(line.slice('READY '.length))
      }
    })
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with code ${code}`)))
  })
  return {
    url,
    stop: async () => {
      const exited = once(child, 'exit')
      child.stdin.end()
      await exited
    },
  }
}
