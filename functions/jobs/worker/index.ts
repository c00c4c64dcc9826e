import { scheduledEntry } from '#core/platform/scheduled-entry.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first run, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
export const main = scheduledEntry({
  name: 'jobs/worker',
  services: async () => (await import('#core/job-services.ts')).jobServices(process.env),
  handler: async (services) => {
    const [{ createWorkerHandler }, { createPipelineRegistry }] = await Promise.all([
      import('./handler.ts'),
      import('#pipelines/registry.ts'),
    ])
    return createWorkerHandler({
      ...services,
      registry: createPipelineRegistry(services),
      // The runtime sets it for each activation, so it is read at each run.
      platformDeadline: () => process.env.__OW_DEADLINE,
    })
  },
})
