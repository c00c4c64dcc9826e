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

describe('routes that declare auth', () => {
  const calls: string[] = []
  const guarded = createRouter<{ id: string }>(
    [
      {
        method: 'GET',
        path: '/',
        auth: 'admin',
        handle: async (_req, _params, principal) => {
          calls.push(principal.id)
          return { status: 200, body: { principal } }
        },
      },
      { method: 'GET', path: '/open', handle: async () => ({ status: 200, body: 'open' }) },
    ],
    {
      authorize: async (req, auth) => {
        if (req.headers['x-admin-key'] !== 'right') {
          throw new AppError('UNAUTHENTICATED', `Not ${auth}.`)
        }
        return { id: 'admin-1' }
      },
    },
  )
  const call = (path: string, headers: Record<string, string> = {}) =>
    guarded(toHttpRequest(aWebEvent({ path, headers }), aContext()))

  it('runs the handler with the principal authorize returned', async () => {
    expect(await call('', { 'x-admin-key': 'right' })).toEqual({
      status: 200,
      body: { principal: { id: 'admin-1' } },
    })
    expect(calls).toEqual(['admin-1'])
  })

  it('never runs the handler for a caller authorize refused, and leaves open routes open', async () => {
    await expect(call('', { 'x-admin-key': 'wrong' })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    })
    await expect(call('')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    expect(calls).toEqual(['admin-1'])
    expect(await call('/open')).toEqual({ status: 200, body: 'open' })
  })

  it('refuses to build routes that declare auth without an authorize function', () => {
    expect(() =>
      createRouter([
        { method: 'GET', path: '/', auth: 'admin', handle: async () => ({ status: 200 }) },
      ]),
    ).toThrow(/authorize/)
  })
})
