import { webEntry } from '#core/platform/web-entry.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first request, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
// The document is the generated openapi.json, bundled as data: the generator stays out of every
// function.
export const main = webEntry({
  services: async () => {
    const [{ loadConfig }, { createServices }] = await Promise.all([
      import('#core/config.ts'),
      import('#core/services.ts'),
    ])
    return createServices(loadConfig(process.env))
  },
  handler: async () => {
    const [{ createOpenApiHandler }, document] = await Promise.all([
      import('./handler.ts'),
      import('../../../openapi.json', { with: { type: 'json' } }),
    ])
    return createOpenApiHandler(document.default)
  },
})
