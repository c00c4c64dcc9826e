import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { webEntry } from '#core/platform/web-entry.ts'
import { useTestDatabase } from '#test/database.ts'
import { errorOf, webCaller } from '#test/harness.ts'
import { testServices } from '#test/services.ts'
import document from '../../../openapi.json' with { type: 'json' }
import { createOpenApiHandler } from './handler.ts'

const getDatabase = useTestDatabase()
const committed = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', '..', 'openapi.json'), 'utf8'),
)

function openApiFunction(env: Record<string, string> = {}) {
  const main = webEntry({
    services: () => testServices({ database: getDatabase(), env }),
    handler: () => createOpenApiHandler(document),
  })
  return webCaller(main, { functionName: '/local/v1/openapi' })
}

describe('v1/openapi', () => {
  describe('happy', () => {
    it('answers the committed OpenAPI document to anyone, with the request id', async () => {
      const res = await openApiFunction()({ headers: { 'x-request-id': 'req-openapi-0001' } })
      expect(res.statusCode).toBe(200)
      expect(res.body).toEqual(committed)
      expect((res.body as { openapi: string }).openapi).toBe('3.1.1')
      // Ours is the activation's id; the client's own comes back beside it.
      expect(res.headers['X-Request-Id']).toMatch(/^act/)
      expect(res.headers['X-Client-Request-Id']).toBe('req-openapi-0001')
      expect(res.headers['Content-Type']).toBe('application/json')
    })

    it('lets the front end read it across origins', async () => {
      const call = openApiFunction({ APP_ENV: 'test', WEB_BASE_URL: 'https://pm.example.com' })
      const res = await call({ headers: { origin: 'https://pm.example.com' } })
      expect(res.headers['Access-Control-Allow-Origin']).toBe('https://pm.example.com')
    })
  })

  describe('errors', () => {
    it('answers 405 for another method and 404 for a sub-path', async () => {
      const call = openApiFunction()
      const post = await call({ method: 'POST', body: {} })
      expect(post.statusCode).toBe(405)
      expect(post.headers.Allow).toBe('GET, OPTIONS')
      const sub = await call({ path: '/paths' })
      expect(sub.statusCode).toBe(404)
      expect(errorOf(sub).code).toBe('NOT_FOUND')
    })
  })
})
