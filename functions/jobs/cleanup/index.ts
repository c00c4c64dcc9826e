import { loadConfig } from '#core/config.ts'
import { scheduledEntry } from '#core/platform/scheduled-entry.ts'
import { createServices } from '#core/services.ts'
import { createCleanupHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = scheduledEntry({
  name: 'jobs/cleanup',
  services: () => createServices(loadConfig(process.env)),
  handler: (services) => createCleanupHandler(services),
})
