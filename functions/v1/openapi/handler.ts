import { createRouter } from '#core/http/router.ts'
import type { HttpHandler } from '#core/http/types.ts'

/**
 * GET v1/openapi: the OpenAPI 3.1 document of every web function (openapi.json, written by
 * `npm run openapi`), to anyone: it describes the API, and holds nothing a caller could misuse.
 */
export function createOpenApiHandler(document: Readonly<Record<string, unknown>>): HttpHandler {
  return createRouter([
    { method: 'GET', path: '/', handle: async () => ({ status: 200, body: document }) },
  ])
}
