import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { toHttpRequest } from '#core/platform/do-event.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { createRouter } from './router.ts'

const router = createRouter([
  { method: 'GET', path: '/', handle: async () => ({ status: 200, body: { route: 'list' } }) },
  {
    method: 'GET',
    path: '/:jobId',
    handle: async (_req, params) => ({ status: 200, body: params }),
  },
  {
    method: 'POST',
    path: '/:jobId/resume',
    handle: async (_req, params) => ({ status: 202, body: params }),
  },
])

async function route(method: string, path: string) {
  try {
    return await router(toHttpRequest(aWebEvent({ method, path }), aContext()))
  } catch (err) {
    return {
      status: err instanceof AppError ? err.status : 500,
      headers: err instanceof AppError ? err.headers : {},
    }
  }
}

describe('createRouter', () => {
  it('dispatches on method and path, decoding parameters', async () => {
    expect(await route('GET', '')).toEqual({ status: 200, body: { route: 'list' } })
    expect(await route('GET', '/a%20b')).toEqual({ status: 200, body: { jobId: 'a b' } })
    expect(await route('POST', '/42/resume')).toEqual({ status: 202, body: { jobId: '42' } })
  })

  it('answers 405 with Allow for a known path and another method, and 404 for unknown paths', async () => {
    expect(await route('DELETE', '/42')).toMatchObject({
      status: 405,
      headers: { Allow: 'GET, OPTIONS' },
    })
    expect((await route('GET', '/42/other')).status).toBe(404)
  })

  it('answers 404, not 500, for a malformed percent escape', async () => {
    expect((await route('GET', '/%E0%A4%A')).status).toBe(404)
  })
})
