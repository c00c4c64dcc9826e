// One jobs/worker invocation in a process of its own, as the platform runs it, so the soak can
// kill it with SIGKILL mid-chunk. Its settings arrive as environment variables; its one argument is
// the invocation's budget in ms. The engine's times are the production ones scaled down (see
// SOAK_ENGINE), so leases of killed workers expire within the soak.
import { loadConfig } from '#core/config.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { createWorkerHandler } from '../functions/jobs/worker/handler.ts'
import { SOAK_ENGINE } from './engine-settings.ts'

async function main(budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs
  const services = createServices(loadConfig(process.env), {}, { upstreams: createUpstreams })
  const worker = createWorkerHandler({
    ...services,
    registry: createPipelineRegistry(services),
    engine: SOAK_ENGINE,
  })
  const summary = await worker({}, { getRemainingTimeInMillis: () => deadline - Date.now() })
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  await services.pool.end()
}

main(Number(process.argv[2] ?? 30_000)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exitCode = 1
})
