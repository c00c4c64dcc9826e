import { scheduledEntry } from '#core/platform/scheduled-entry.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first run, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
export const main = scheduledEntry({
  name: 'jobs/sync',
  services: async () => {
    const [{ loadConfig }, { createServices }, { createUpstreams }] = await Promise.all([
      import('#core/config.ts'),
      import('#core/services.ts'),
      import('#core/upstream-clients.ts'),
    ])
    return createServices(loadConfig(process.env), {}, { upstreams: createUpstreams })
  },
  handler: async (services) => {
    const [{ createSyncHandler }, { createPipelineRegistry, SYNC_PLAN_TIMEOUT_MS }] =
      await Promise.all([import('./handler.ts'), import('#pipelines/registry.ts')])
    return createSyncHandler({
      ...services,
      registry: createPipelineRegistry(services, { planTimeoutMs: SYNC_PLAN_TIMEOUT_MS }),
    })
  },
})
