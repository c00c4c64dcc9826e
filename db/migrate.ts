import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { connectionConfig, decodePem } from './connection.ts'

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url))

/** Applies every pending migration of db/migrations to the database at `url`. */
export async function applyMigrations(
  url: string,
  options: { caCert?: string } = {},
): Promise<void> {
  const client = new pg.Client(connectionConfig({ url, caCert: options.caCert }))
  await client.connect()
  try {
    // One migrator at a time, even when deploys or test runs overlap.
    await client.query('select pg_advisory_lock(727001)')
    await migrate(drizzle(client), {
      migrationsFolder: MIGRATIONS_FOLDER,
      migrationsTable: '__drizzle_migrations',
      migrationsSchema: 'drizzle',
    })
  } finally {
    await client.end()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (existsSync('.env')) {
    process.loadEnvFile('.env')
  }
  // Migrations take an advisory lock and DDL locks: use the cluster's direct port, not PgBouncer.
  const url = process.env.DATABASE_MIGRATION_URL || process.env.DATABASE_URL
  if (!url) {
    process.stderr.write('DATABASE_MIGRATION_URL or DATABASE_URL must be set.\n')
    process.exit(1)
  }
  const ca = process.env.DATABASE_CA_CERT
  const caCert = ca ? decodePem(ca) : undefined
  applyMigrations(url, caCert ? { caCert } : {}).then(
    () => process.stdout.write('Migrations applied.\n'),
    (err: unknown) => {
      process.stderr.write(
        `Migration failed: ${err instanceof Error ? err.message : String(err)}\n`,
      )
      process.exit(1)
    },
  )
}
