// A fresh, migrated database for one fuzz run, on the PostgreSQL server of `serverUrl`.
import { randomBytes } from 'node:crypto'
import { applyMigrations } from '#db/migrate.ts'
import { adminQuery, withDatabase } from '#test/database-server.ts'

export type FuzzDatabase = { url: string; name: string; drop(): Promise<void> }

/** Creates `fuzz_<random>` with every migration applied; `drop()` removes it. */
export async function createFuzzDatabase(serverUrl: string): Promise<FuzzDatabase> {
  const name = `fuzz_${randomBytes(6).toString('hex')}`
  await adminQuery(serverUrl, `create database ${name}`)
  const url = withDatabase(serverUrl, name)
  await applyMigrations(url)
  return {
    url,
    name,
    drop: () => adminQuery(serverUrl, `drop database if exists ${name} with (force)`),
  }
}
