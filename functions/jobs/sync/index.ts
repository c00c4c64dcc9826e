import { loadConfig } from '#core/config.ts'
import { scheduledEntry } from '#core/platform/scheduled-entry.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { createPipelineRegistry, SYNC_PLAN_TIMEOUT_MS } from '#pipelines/registry.ts'
import { createSyncHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = scheduledEntry({
  name: 'jobs/sync',
  services: () => createServices(loadConfig(process.env), {}, { upstreams: createUpstreams }),
  handler: (services) =>
    createSyncHandler({
      ...services,
      registry: createPipelineRegistry(services, { planTimeoutMs: SYNC_PLAN_TIMEOUT_MS }),
    }),
})
