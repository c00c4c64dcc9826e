import { webEntry } from '#core/platform/web-entry.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first request, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
export const main = webEntry({
  services: async () => {
    const [{ loadConfig }, { createServices }, { createUpstreams }, { runtimeOf }] =
      await Promise.all([
        import('#core/config.ts'),
        import('#core/services.ts'),
        import('#core/upstream-clients.ts'),
        import('#core/functions-api.ts'),
      ])
    return createServices(
      loadConfig(process.env),
      {},
      { upstreams: createUpstreams, runtime: () => runtimeOf(process.env) },
    )
  },
  handler: async (services) => {
    const [{ createBackfillTempoHandler }, { createPipelineRegistry }] = await Promise.all([
      import('./handler.ts'),
      import('#pipelines/registry.ts'),
    ])
    return createBackfillTempoHandler({ ...services, registry: createPipelineRegistry(services) })
  },
})
