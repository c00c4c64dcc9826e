import { scheduledEntry } from '#core/platform/scheduled-entry.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first run, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
export const main = scheduledEntry({
  name: 'jobs/cleanup',
  services: async () => {
    const [{ loadConfig }, { createServices }] = await Promise.all([
      import('#core/config.ts'),
      import('#core/services.ts'),
    ])
    return createServices(loadConfig(process.env))
  },
  handler: async (services) => (await import('./handler.ts')).createCleanupHandler(services),
})
