import { loadConfig } from '#core/config.ts'
import { runtimeOf } from '#core/functions-api.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { createBackfillTempoHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = webEntry({
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
    createBackfillTempoHandler({
      ...services,
      registry: createPipelineRegistry(services),
    }),
})
