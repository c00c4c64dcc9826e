import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { applyMigrations } from '#db/migrate.ts'
import { withDatabase } from './database-server.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
    templateDatabase: string
  }
}

/**
 * Once per run: PostgreSQL at DATABASE_URL (else an embedded one), and a template database with
 * every migration applied, which each test file clones (see database.ts).
 */
export async function setup(project: TestProject) {
  let url = process.env.DATABASE_URL
  let stop: (() => Promise<void>) | undefined
  if (!url) {
    const running = await startEmbeddedPostgresProcess(
      join(process.cwd(), '.data', 'test-postgres'),
    )
    url = running.url
    stop = running.stop
  }
  // One template per run, so runs that overlap on one server never drop each other's.
  const template = `agent_pm_template_${process.pid}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`drop database if exists ${template} with (force)`)
  await admin.query(`create database ${template}`)
  await applyMigrations(withDatabase(url, template))
  project.provide('databaseUrl', url)
  project.provide('templateDatabase', template)
  return async () => {
    await admin.query(`drop database if exists ${template} with (force)`).catch(() => {})
    await admin.end()
    await stop?.()
  }
}

/** An embedded PostgreSQL in a child process (sandbox/embedded-postgres-process.ts), at `dataDir`. */
export async function startEmbeddedPostgresProcess(
  dataDir: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const script = join(import.meta.dirname, '..', 'sandbox', 'embedded-postgres-process.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  const ready = new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('READY ')) {
        resolve(line.slice('READY '.length))
      }
    })
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with code ${code}`)))
  })
  const url = await ready
  return {
    url,
    stop: async () => {
      const exited = once(child, 'exit')
      child.stdin.end()
      await exited
    },
  }
}
