// A fresh, migrated database for one fuzz run, on the PostgreSQL server of `serverUrl`.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { applyMigrations } from '#db/migrate.ts'

export type FuzzDatabase = { url: string; name: string; drop(): Promise<void> }

/** The URL of `database` on the server of `url`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

async function admin(serverUrl: string, statement: string) {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** Creates `fuzz_<random>` with every migration applied; `drop()` removes it. */
export async function createFuzzDatabase(serverUrl: string): Promise<FuzzDatabase> {
  const name = `fuzz_${randomBytes(6).toString('hex')}`
  await admin(serverUrl, `create database ${name}`)
  const url = withDatabase(serverUrl, name)
  await applyMigrations(url)
  return {
    url,
    name,
    drop: () => admin(serverUrl, `drop database if exists ${name} with (force)`),
  }
}
