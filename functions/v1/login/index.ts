import { loadConfig } from '#core/config.ts'
import { createServices } from '#core/services.ts'
import { webEntry } from '#core/web-entry.ts'
import { createLoginHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env.
export const main = webEntry({
  services: () => createServices(loadConfig(process.env)),
  handler: (services) => createLoginHandler(services),
})
