import { describe, expect, it } from 'vitest'
import { AppError, toErrorResponse } from './errors.ts'

describe('toErrorResponse', () => {
  it('sends code, message, details and request id for a 4xx', () => {
    const err = new AppError('BAD_REQUEST', 'Days must be 1–3650.', { details: { field: 'days' } })
    expect(toErrorResponse(err, 'req-1')).toEqual({
      status: 400,
      headers: {},
      body: {
        error: {
          code: 'BAD_REQUEST',
          message: 'Days must be 1–3650.',
          requestId: 'req-1',
          details: { field: 'days' },
        },
      },
    })
  })

  it('hides the message, details and cause of a 5xx', () => {
    const err = new AppError('UPSTREAM_FAILED', 'Jira said: secret body', {
      details: { body: 'secret' },
      cause: new Error('x'),
    })
    const res = toErrorResponse(err, 'req-2')
    expect(res.status).toBe(502)
    expect(JSON.stringify(res.body)).not.toContain('secret')
    expect(res.body.error).toEqual({
      code: 'UPSTREAM_FAILED',
      message: 'The server could not complete this request.',
      requestId: 'req-2',
    })
  })

  it('answers anything that is not an AppError as a bare INTERNAL 500', () => {
    const res = toErrorResponse(new TypeError('cannot read x of undefined at /src/a.ts:3'), 'req-3')
    expect(res.status).toBe(500)
    expect(JSON.stringify(res.body)).not.toContain('/src/')
    expect(res.body.error.code).toBe('INTERNAL')
  })

  it('keeps headers such as Retry-After', () => {
    const err = new AppError('RATE_LIMITED', 'Slow down.', { headers: { 'Retry-After': '30' } })
    expect(toErrorResponse(err, 'r').headers).toEqual({ 'Retry-After': '30' })
  })

  it('keeps a 5xx sentence written for the caller, never its cause', () => {
    const hidden = new AppError('UNAVAILABLE', 'Could not list projects: ECONNRESET 10.0.0.5')
    expect(toErrorResponse(hidden, 'req-5').body.error.message).toBe(
      'The server could not complete this request.',
    )
    const err = new AppError('UNAVAILABLE', 'Jira did not answer in time; try again.', {
      cause: new Error('connect ECONNREFUSED 10.0.0.5:443'),
      publicMessage: true,
    })
    const res = toErrorResponse(err, 'req-4')
    expect(res.status).toBe(503)
    expect(res.body.error).toEqual({
      code: 'UNAVAILABLE',
      message: 'Jira did not answer in time; try again.',
      requestId: 'req-4',
    })
  })
})
