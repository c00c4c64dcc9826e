// A jobs/worker in a process of its own, for the Tempo end-to-end test that kills it with SIGKILL
// mid-run. Its one argument is JSON: { env, leaseMs } (the environment of the fakes and the test
// database); it runs the Tempo kinds until nothing is due, as a real worker invocation would.
import { createJobRegistry } from '#core/jobs/registry.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { createTempoKinds } from '#pipelines/tempo/kinds.ts'
import { testConfig } from '#test/config.ts'
import { createWorkerHandler } from '../../functions/jobs/worker/handler.ts'

type Settings = { env: Record<string, string>; leaseMs: number }

async function main(settings: Settings): Promise<void> {
  const services = createServices(
    testConfig({ ...settings.env, LOG_LEVEL: 'silent' }),
    {},
    { upstreams: createUpstreams },
  )
  const kinds = createTempoKinds(services)
  const worker = createWorkerHandler({
    ...services,
    registry: createJobRegistry([kinds.backfill, kinds.sync]),
    engine: { leaseMs: settings.leaseMs, marginMs: 1_000 },
  })
  await worker({}, { getRemainingTimeInMillis: () => 600_000 })
  await services.pool.end()
}

main(JSON.parse(process.argv[2] ?? '{}') as Settings).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exitCode = 1
})
