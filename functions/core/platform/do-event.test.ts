import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import {
  clientIpOf,
  envelopeOf,
  MAX_BODY_BYTES,
  remainingTimeOf,
  toHttpRequest,
} from './do-event.ts'

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

    it('accepts a body of exactly 1,048,576 bytes and refuses 1,048,577, counting bytes', () => {
      const sized = (bytes: number, fill = 'x') =>
        aWebEvent({
          method: 'POST',
          rawBody: JSON.stringify(fill.repeat((bytes - 2) / Buffer.byteLength(fill))),
        })
      expect(toHttpRequest(sized(1_048_576), aContext()).body).toHaveLength(1_048_574)
      expect(errorCode(() => toHttpRequest(sized(1_048_577), aContext()))).toBe('PAYLOAD_TOO_LARGE')
      // Two bytes a character in UTF-8: 524,287 of them and the quotes are the limit exactly.
      expect(toHttpRequest(sized(1_048_576, 'é'), aContext()).body).toHaveLength(524_287)
      const over = aWebEvent({ method: 'POST', rawBody: `${JSON.stringify('é'.repeat(524_287))} ` })
      expect(errorCode(() => toHttpRequest(over, aContext()))).toBe('PAYLOAD_TOO_LARGE')
      // Base64 bodies count what they decode to.
      const encoded = sized(1_048_576)
      encoded.http.body = Buffer.from(encoded.http.body).toString('base64')
      encoded.http.isBase64Encoded = true
      expect(toHttpRequest(encoded, aContext()).body).toHaveLength(1_048_574)
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
      const context = { ...aContext(), activationId: 'activation-0002' }
      const req = toHttpRequest(event, context)
      expect(req.query).toEqual({ days: '7' })
      expect(req.body).toEqual({ days: '7', n: 3 })
      expect(req.requestId).toBe('activation-0002')
      expect(envelopeOf(event, context).clientRequestId).toBe('req-12345678')
    })
  })

  describe('merged web events (web: true), size', () => {
    it('accepts parameters of exactly 1,048,576 bytes as JSON and refuses 1,048,577', () => {
      // {"pad":"…"} is the padding plus 10 bytes.
      const merged = (bytes: number) => ({
        http: { method: 'post', path: '', headers: {} },
        pad: 'x'.repeat(bytes - 10),
      })
      expect(toHttpRequest(merged(1_048_576), aContext()).body).toMatchObject({
        pad: expect.any(String),
      })
      expect(errorCode(() => toHttpRequest(merged(1_048_577), aContext()))).toBe(
        'PAYLOAD_TOO_LARGE',
      )
      const get = { ...merged(1_048_577), http: { method: 'get', path: '', headers: {} } }
      expect(errorCode(() => toHttpRequest(get, aContext()))).toBe('PAYLOAD_TOO_LARGE')
    })
  })

  describe('request ids', () => {
    it("uses the activation id, never a client's x-request-id, which is only kept beside it", () => {
      const context = { ...aContext(), activationId: 'activation-0001' }
      const sent = aWebEvent({ headers: { 'x-request-id': 'abc-123-def' } })
      expect(toHttpRequest(sent, context).requestId).toBe('activation-0001')
      expect(envelopeOf(sent, context)).toMatchObject({
        requestId: 'activation-0001',
        clientRequestId: 'abc-123-def',
      })
      const malformed = aWebEvent({ headers: { 'x-request-id': 'bad id\n<script>' } })
      expect(envelopeOf(malformed, context)).toMatchObject({
        requestId: 'activation-0001',
        clientRequestId: undefined,
      })
    })

    it('makes up a UUID when the activation id is missing or malformed', () => {
      const { activationId: _, ...withoutId } = aContext()
      for (const context of [withoutId, { ...withoutId, activationId: 'bad id\n' }]) {
        const { requestId } = envelopeOf(
          aWebEvent({ headers: { 'x-request-id': 'abc-123-def' } }),
          context,
        )
        expect(requestId).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        )
      }
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

    it('reads an envelope from any event and context, never throwing', () => {
      // Null-prototype objects too: String() of one throws.
      const any = fc.anything({ withNullPrototype: true, withBoxedValues: true })
      const shape = fc.record(
        { method: any, path: any, headers: any, queryString: any, body: any },
        { requiredKeys: [] },
      )
      const event = fc.oneof(
        fc.anything(),
        fc.record({ http: shape }),
        fc.dictionary(fc.string(), fc.anything()),
      )
      fc.assert(
        fc.property(
          event,
          fc.record({ activationId: fc.string() }, { requiredKeys: [] }),
          (e, context) => {
            const envelope = envelopeOf(e, context)
            expect(typeof envelope.method).toBe('string')
            expect(typeof envelope.requestId).toBe('string')
          },
        ),
        { numRuns: 500 },
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
  it('reads method, headers and the client request id from both event shapes', () => {
    const raw = envelopeOf(
      aWebEvent({ method: 'options', headers: { 'X-Request-Id': 'req-abcdefgh' } }),
      aContext(),
    )
    expect(raw).toMatchObject({ method: 'OPTIONS', clientRequestId: 'req-abcdefgh' })
    const legacy = envelopeOf(
      {
        __ow_method: 'options',
        __ow_headers: { Origin: 'http://localhost:5173', 'x-request-id': 'legacy-0001' },
      },
      aContext(),
    )
    expect(legacy).toMatchObject({ method: 'OPTIONS', clientRequestId: 'legacy-0001' })
    expect(legacy.headers.origin).toBe('http://localhost:5173')
  })
})

describe('remainingTimeOf', () => {
  it('asks the runtime as a method, else counts to its deadline, else has no limit', () => {
    const runtime = {
      deadline: 5_000,
      left: 1234,
      getRemainingTimeInMillis(this: { left: number }) {
        return this.left
      },
    }
    expect(remainingTimeOf(runtime)()).toBe(1234)
    const deadline = Date.now() + 60_000
    const byDeadline = remainingTimeOf({ deadline })()
    expect(byDeadline).toBeGreaterThan(50_000)
    expect(byDeadline).toBeLessThanOrEqual(60_000)
    expect(remainingTimeOf({})()).toBe(Number.POSITIVE_INFINITY)
  })

  it('reaches handlers on the request', () => {
    const req = toHttpRequest(aWebEvent(), { getRemainingTimeInMillis: () => 4321 })
    expect(req.remainingMs()).toBe(4321)
  })
})
