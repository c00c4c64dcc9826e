// A worker in a process of its own, for the engine test that kills it with SIGKILL mid-chunk.
// Its one argument is JSON: { databaseUrl, kind, leaseMs, pageDelayMs }; it writes to synthetic_items.
import { createDatabase } from '#core/db/client.ts'
import { runWorker } from '#core/jobs/engine.ts'
import { createJobQueue } from '#core/jobs/queue.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { createLogger } from '#core/log.ts'
import { createSyntheticKind, tableSink } from './synthetic-kind.ts'

type Settings = { databaseUrl: string; kind: string; leaseMs: number; pageDelayMs: number }

async function main(settings: Settings): Promise<void> {
  const { pool } = createDatabase({ url: settings.databaseUrl, poolMax: 2, caCert: undefined })
  const kind = createSyntheticKind({
    kind: settings.kind,
    sink: tableSink(pool),
    pageDelayMs: settings.pageDelayMs,
  })
  await runWorker({
    jobs: createJobQueue(pool),
    registry: createJobRegistry([kind]),
    log: createLogger({ level: 'silent' }),
    remainingMs: () => 600_000,
    leaseMs: settings.leaseMs,
    marginMs: 1_000,
  })
  await pool.end()
}

main(JSON.parse(process.argv[2] ?? '{}') as Settings).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exitCode = 1
})
