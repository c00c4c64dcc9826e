import { webEntry } from '#core/platform/web-entry.ts'
import { isLivenessProbe } from './handler.ts'

// Wiring only, and the one place this function reads process.env. What it runs is imported at
// the first request, not when the platform loads the bundle (docs/ARCHITECTURE.md, "Cold start").
export const main = webEntry({
  services: async () => {
    const [{ loadConfig }, { createServices }, { createUpstreams }] = await Promise.all([
      import('#core/config.ts'),
      import('#core/services.ts'),
      import('#core/upstream-clients.ts'),
    ])
    return createServices(loadConfig(process.env), {}, { upstreams: createUpstreams })
  },
  handler: async (services) => {
    const [{ createHealthHandler }, { rateLimitCheck }, { queueCheck }, { pineconeCheck }] =
      await Promise.all([
        import('./handler.ts'),
        import('#core/health/checks.ts'),
        import('#core/jobs/queue-check.ts'),
        import('#core/upstreams/pinecone/health.ts'),
      ])
    return createHealthHandler({
      ...services,
      isAdmin: services.auth.isAdmin,
      isMonitor: services.auth.isMonitor,
      checks: [
        rateLimitCheck(services.rateLimiter),
        pineconeCheck(services.pinecone),
        queueCheck(services.jobs),
      ],
    })
  },
  exemptFromClientLimits: isLivenessProbe,
})
