import { loadConfig } from '#core/config.ts'
import { runtimeOf } from '#core/functions-api.ts'
import { scheduledEntry } from '#core/platform/scheduled-entry.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { createWorkerHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = scheduledEntry({
  name: 'jobs/worker',
  services: () =>
    createServices(
      loadConfig(process.env),
      {},
      {
        upstreams: createUpstreams,
        runtime: () => runtimeOf(process.env),
      },
    ),
  handler: (services) =>
    createWorkerHandler({
      ...services,
      registry: createPipelineRegistry(services),
      // The runtime sets it for each activation, so it is read at each run.
      platformDeadline: () => process.env.__OW_DEADLINE,
    }),
})
