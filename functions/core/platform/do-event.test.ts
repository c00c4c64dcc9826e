import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { clientIpOf, envelopeOf, MAX_BODY_BYTES, toHttpRequest } from './do-event.ts'

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`
  }
}

describe('toHttpRequest', () => {
  describe('raw web events', () => {
    it('maps method, sub-path, lower-cased headers, first query values and the JSON body', () => {
      const event = aWebEvent({
        method: 'post',
        path: '/123/resume/',
        headers: { 'X-Custom': 'Yes' },
        query: 'days=7&days=9&projects=A',
        body: { a: 1 },
      })
      const req = toHttpRequest(event, aContext())
      expect(req).toMatchObject({
        method: 'POST',
        path: '/123/resume',
        query: { days: '7', projects: 'A' },
        body: { a: 1 },
        clientIp: '203.0.113.7',
      })
      expect(req.headers['x-custom']).toBe('Yes')
    })

    it('decodes a base64 body', () => {
      const event = aWebEvent({ method: 'POST', body: {} })
      event.http.body = Buffer.from('{"x":true}').toString('base64')
      event.http.isBase64Encoded = true
      expect(toHttpRequest(event, aContext()).body).toEqual({ x: true })
    })

    it('treats an empty body as absent and the root path as empty', () => {
      const req = toHttpRequest(aWebEvent({ method: 'POST', path: '/' }), aContext())
      expect(req.body).toBeUndefined()
      expect(req.path).toBe('')
    })

    it('refuses malformed JSON, another content type and a body over 1 MB', () => {
      expect(
        errorCode(() => toHttpRequest(aWebEvent({ method: 'POST', rawBody: '{"a":' }), aContext())),
      ).toBe('BAD_REQUEST')
      const form = aWebEvent({
        method: 'POST',
        rawBody: 'a=1',
        headers: { 'content-type': 'text/plain' },
      })
      expect(errorCode(() => toHttpRequest(form, aContext()))).toBe('UNSUPPORTED_MEDIA_TYPE')
      const big = aWebEvent({
        method: 'POST',
        rawBody: JSON.stringify({ a: 'x'.repeat(MAX_BODY_BYTES) }),
      })
      expect(errorCode(() => toHttpRequest(big, aContext()))).toBe('PAYLOAD_TOO_LARGE')
    })

    it('accepts JSON with a charset and vendor +json types', () => {
      const event = aWebEvent({
        method: 'POST',
        rawBody: '{"ok":1}',
        headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' },
      })
      expect(toHttpRequest(event, aContext()).body).toEqual({ ok: 1 })
    })
  })

  describe('merged web events (web: true)', () => {
    it('takes top-level parameters as query strings and as the body of a POST', () => {
      const event = {
        http: { method: 'post', path: '', headers: { 'X-Request-Id': 'req-12345678' } },
        days: '7',
        n: 3,
      }
      const req = toHttpRequest(event, aContext())
      expect(req.query).toEqual({ days: '7' })
      expect(req.body).toEqual({ days: '7', n: 3 })
      expect(req.requestId).toBe('req-12345678')
    })
  })

  describe('request ids', () => {
    it('uses a well-formed x-request-id, else the activation id', () => {
      const context = { ...aContext(), activationId: 'activation-0001' }
      expect(
        toHttpRequest(aWebEvent({ headers: { 'x-request-id': 'abc-123-def' } }), context).requestId,
      ).toBe('abc-123-def')
      expect(
        toHttpRequest(aWebEvent({ headers: { 'x-request-id': 'bad id\n<script>' } }), context)
          .requestId,
      ).toBe('activation-0001')
    })
  })

  describe('properties', () => {
    it('any event maps to a request or a 4xx AppError, never another throw', () => {
      fc.assert(
        fc.property(fc.anything(), fc.string(), fc.string(), (http, body, contentType) => {
          for (const event of [
            { http },
            aWebEvent({ method: 'POST', rawBody: body, headers: { 'content-type': contentType } }),
          ]) {
            try {
              const req = toHttpRequest(event, aContext())
              expect(typeof req.method).toBe('string')
            } catch (err) {
              expect(err).toBeInstanceOf(AppError)
              expect((err as AppError).status).toBeLessThan(500)
            }
          }
        }),
      )
    })

    it('round-trips any JSON body', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const req = toHttpRequest(
            aWebEvent({ method: 'POST', rawBody: JSON.stringify(value) }),
            aContext(),
          )
          expect(req.body).toEqual(JSON.parse(JSON.stringify(value)))
        }),
      )
    })
  })
})

describe('clientIpOf', () => {
  it('takes the right-most x-forwarded-for hop, which the edge appends and a client cannot choose', () => {
    expect(clientIpOf({ 'x-forwarded-for': '1.1.1.1, 10.0.0.1, 198.51.100.4' })).toBe(
      '198.51.100.4',
    )
    expect(clientIpOf({ 'x-forwarded-for': '198.51.100.4' })).toBe('198.51.100.4')
    expect(clientIpOf({})).toBe('unknown')
  })
})

describe('envelopeOf', () => {
  it('reads method, headers and request id from both event shapes', () => {
    const raw = envelopeOf(
      aWebEvent({ method: 'options', headers: { 'X-Request-Id': 'req-abcdefgh' } }),
      aContext(),
    )
    expect(raw).toMatchObject({ method: 'OPTIONS', requestId: 'req-abcdefgh' })
    const legacy = envelopeOf(
      {
        __ow_method: 'options',
        __ow_headers: { Origin: 'http://localhost:5173', 'x-request-id': 'legacy-0001' },
      },
      aContext(),
    )
    expect(legacy).toMatchObject({ method: 'OPTIONS', requestId: 'legacy-0001' })
    expect(legacy.headers.origin).toBe('http://localhost:5173')
  })
})
