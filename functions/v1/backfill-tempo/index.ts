import { webEntry } from '#core/platform/web-entry.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first request, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
export const main = webEntry({
  services: async () => (await import('#core/job-services.ts')).jobServices(process.env),
  handler: async (services) => {
    const [{ createBackfillTempoHandler }, { createPipelineRegistry }] = await Promise.all([
      import('./handler.ts'),
      import('#pipelines/registry.ts'),
    ])
    return createBackfillTempoHandler({ ...services, registry: createPipelineRegistry(services) })
  },
})
