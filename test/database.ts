import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, inject, onTestFailed } from 'vitest'
import { createDatabase, type Database, type PoolLike } from '#core/db/client.ts'
import { adminQuery, withDatabase } from './database-server.ts'

/** The URL of another database on the test server. */
export function databaseUrl(database: string): string {
  return withDatabase(inject('databaseUrl'), database)
}

export type TestDatabase = { db: Database; pool: PoolLike; url: string; name: string }

/**
 * This file's own database, cloned from the migrated template before its tests and dropped after,
 * unless a test failed: then it is kept and its name printed for a look.
 * @example const getDb = useTestDatabase(); … getDb().db.select()…
 */
export function useTestDatabase(options: { poolMax?: number } = {}): () => TestDatabase {
  let current: TestDatabase | undefined
  let failed = false
  const name = `test_${randomBytes(6).toString('hex')}`

  beforeAll(async () => {
    await adminQuery(
      inject('databaseUrl'),
      `create database ${name} template ${inject('templateDatabase')}`,
    )
    const url = databaseUrl(name)
    const { db, pool } = createDatabase({ url, poolMax: options.poolMax ?? 4, caCert: undefined })
    current = { db, pool, url, name }
  })

  afterAll(async () => {
    await current?.pool.end()
    if (failed) {
      process.stderr.write(`Kept database ${name} of a failed test: ${databaseUrl(name)}\n`)
      return
    }
    await adminQuery(inject('databaseUrl'), `drop database if exists ${name} with (force)`)
  })

  return () => {
    if (!current) {
      throw new Error('useTestDatabase(): the database is ready only inside tests and hooks.')
    }
    // Registered per access, so any test that used the database marks it for keeping on failure.
    try {
      onTestFailed(() => {
        failed = true
      })
    } catch {
      // Outside a running test (a hook): nothing to register.
    }
    return current
  }
}
