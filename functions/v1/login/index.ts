import { webEntry } from '#core/platform/web-entry.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first request, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
export const main = webEntry({
  services: async () => {
    const [{ loadConfig }, { createServices }] = await Promise.all([
      import('#core/config.ts'),
      import('#core/services.ts'),
    ])
    return createServices(loadConfig(process.env))
  },
  handler: async (services) => (await import('./handler.ts')).createLoginHandler(services),
})
