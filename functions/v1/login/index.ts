import { loadConfig } from '#core/config.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createServices } from '#core/services.ts'
import { createLoginHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = webEntry({
  services: () => createServices(loadConfig(process.env)),
  handler: (services) => createLoginHandler(services),
})
