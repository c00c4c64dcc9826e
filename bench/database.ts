// The benchmark's PostgreSQL: DATABASE_URL, else an embedded server (data in .data/bench-postgres),
// with a template database migrated once per run that each section clones, as the tests do.
import { join } from 'node:path'
import { createDatabase, type Database, type PoolLike } from '#core/db/client.ts'
import { applyMigrations } from '#db/migrate.ts'
import { adminQuery, withDatabase } from '#test/database-server.ts'
import { startEmbeddedPostgresProcess } from '#test/global-setup.ts'

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

/** Connects to `url` (else starts the embedded server) and migrates a template database. */
export async function openBenchServer(url: string | undefined, root: string): Promise<BenchServer> {
  let serverUrl = url
  let stop: (() => Promise<void>) | undefined
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgresProcess(join(root, '.data', 'bench-postgres'))
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
