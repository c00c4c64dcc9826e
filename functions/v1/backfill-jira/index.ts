import { loadConfig } from '#core/config.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstreams/clients.ts'
import { createDailySyncs, createJobKinds } from '#pipelines/registry.ts'
import { createBackfillJiraHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env. DigitalOcean sets
// __OW_NAMESPACE in the runtime; the local server sets NAMESPACE.
export const main = webEntry({
  services: () => createServices(loadConfig(process.env), {}, { upstreams: createUpstreams }),
  handler: (services) =>
    createBackfillJiraHandler({
      ...services,
      registry: createJobRegistry(createJobKinds(services), createDailySyncs(services)),
      basePath: `/api/v1/web/${(process.env.__OW_NAMESPACE ?? process.env.NAMESPACE ?? 'local').replace(/^\/+/, '')}/v1/backfill-jira`,
    }),
})
