import { loadConfig } from '#core/config.ts'
import { rateLimitCheck } from '#core/health/checks.ts'
import { queueCheck } from '#core/jobs/queue-check.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createServices } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { pineconeCheck } from '#core/upstreams/pinecone/health.ts'
import { createHealthHandler, isLivenessProbe } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = webEntry({
  services: () => createServices(loadConfig(process.env), {}, { upstreams: createUpstreams }),
  handler: (services) =>
    createHealthHandler({
      ...services,
      isAdmin: services.auth.isAdmin,
      isMonitor: services.auth.isMonitor,
      checks: [
        rateLimitCheck(services.rateLimiter),
        pineconeCheck(services.pinecone),
        queueCheck(services.jobs),
      ],
    }),
  exemptFromClientLimits: isLivenessProbe,
})
