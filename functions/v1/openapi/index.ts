import { loadConfig } from '#core/config.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createServices } from '#core/services.ts'
import document from '../../../openapi.json' with { type: 'json' }
import { createOpenApiHandler } from './handler.ts'

// Wiring only, and the one place this function reads process.env. The document is the generated
// openapi.json, bundled as data: the generator stays out of every function.
export const main = webEntry({
  services: () => createServices(loadConfig(process.env)),
  handler: () => createOpenApiHandler(document),
})
