import { loadConfig } from '#core/config.ts'
import { rateLimitCheck } from '#core/health.ts'
import { queueCheck } from '#core/jobs/health.ts'
import { createServices } from '#core/services.ts'
import { pineconeCheck } from '#core/upstreams/pinecone/health.ts'
import { createUpstreams } from '#core/upstreams/services.ts'
import { webEntry } from '#core/web-entry.ts'
import { createHealthHandler, isDeep } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = webEntry({
  services: () => createServices(loadConfig(process.env), {}, { upstreams: createUpstreams }),
  handler: (services) =>
    createHealthHandler({
      ...services,
      isAdmin: services.auth.isAdmin,
      checks: [
        rateLimitCheck(services.rateLimiter),
        pineconeCheck(services.pinecone),
        queueCheck(services.jobs),
      ],
    }),
  exemptFromClientLimits: (req) => !isDeep(req),
})
