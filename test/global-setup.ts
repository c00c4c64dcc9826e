import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { applyMigrations } from '#db/migrate.ts'
import { startEmbeddedPostgres } from './embedded-postgres.ts'

export const TEMPLATE_DATABASE = 'agent_pm_template'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
    templateDatabase: string
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/**
 * Once per run: PostgreSQL at DATABASE_URL (else an embedded one), and a template database with
 * every migration applied, which each test file clones (see database.ts).
 */
export async function setup(project: TestProject) {
  let url = process.env.DATABASE_URL
  let stop: (() => Promise<void>) | undefined
  if (!url) {
    const running = await startEmbeddedPostgres({
      dataDir: join(process.cwd(), '.data', 'test-postgres'),
    })
    url = running.url
    stop = running.stop
  }
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    // Files of an earlier, interrupted run may still be connected to the old template.
    await admin.query(`drop database if exists ${TEMPLATE_DATABASE} with (force)`)
    await admin.query(`create database ${TEMPLATE_DATABASE}`)
  } finally {
    await admin.end()
  }
  await applyMigrations(withDatabase(url, TEMPLATE_DATABASE))
  project.provide('databaseUrl', url)
  project.provide('templateDatabase', TEMPLATE_DATABASE)
  return async () => {
    await stop?.()
  }
}
