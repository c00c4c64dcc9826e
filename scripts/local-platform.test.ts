import { describe, expect, it } from 'vitest'
import {
  activationContext,
  failedActivationAnswer,
  isTextType,
  runActivation,
  toAnswer,
  toWebEvent,
} from './local-platform.ts'

const request = (contentType: string | undefined, body: Buffer) => ({
  method: 'POST',
  path: '/x',
  search: '?a=1',
  headers: contentType === undefined ? {} : { 'content-type': contentType },
  body,
})

describe('toWebEvent', () => {
  it('passes text bodies as text and every other body base64, flagged', () => {
    const json = toWebEvent(request('application/json; charset=utf-8', Buffer.from('{"a":1}')))
    expect(json.http).toMatchObject({ body: '{"a":1}', isBase64Encoded: false, queryString: 'a=1' })
    const bytes = Buffer.from([0, 255, 1, 2])
    for (const type of ['application/octet-stream', 'image/png', undefined]) {
      const event = toWebEvent(request(type, bytes))
      expect(event.http.isBase64Encoded, String(type)).toBe(true)
      expect(Buffer.from(event.http.body, 'base64')).toEqual(bytes)
    }
  })

  it('treats text/*, JSON, XML, forms and anything with a charset as text', () => {
    for (const type of [
      'text/plain',
      'application/json',
      'application/problem+json',
      'application/xml',
      'application/x-www-form-urlencoded',
      'application/x-custom; charset=utf-8',
    ]) {
      expect(isTextType(type), type).toBe(true)
    }
    for (const type of ['application/pdf', 'multipart/form-data; boundary=x', '']) {
      expect(isTextType(type), type).toBe(false)
    }
  })
})

describe('activationContext', () => {
  it('gives the remaining time from the function limit, through a method', () => {
    let now = 1_000_000
    const context = activationContext(
      { pkg: 'jobs', name: 'worker', limits: { timeout: 180_000 } },
      'local',
      () => now,
    )
    expect(context.functionName).toBe('/local/jobs/worker')
    expect(context.deadline).toBe(1_180_000)
    now += 30_000
    expect(context.getRemainingTimeInMillis()).toBe(150_000)
  })
})

describe('runActivation', () => {
  it('returns the result of a function within its limit', async () => {
    const activation = await runActivation(async () => ({ ok: true }), {}, {}, 1_000)
    expect(activation).toEqual({ kind: 'result', result: { ok: true } })
  })

  it("times a function out at its limit with the platform's message", async () => {
    const never = () => new Promise<Record<string, unknown>>(() => {})
    const activation = await runActivation(never, {}, {}, 50)
    expect(activation).toEqual({
      kind: 'timeout',
      message: 'The function exceeded its time limits of 50 milliseconds.',
    })
  })

  it('reports a throw, synchronous or not', async () => {
    const sync = await runActivation(
      () => {
        throw new Error('boom')
      },
      {},
      {},
      1_000,
    )
    expect(sync).toEqual({ kind: 'error', message: 'boom' })
  })

  it('answers a failed activation with 400 and the activation id, as the platform does', () => {
    const answer = failedActivationAnswer('abc123')
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.body.toString())).toEqual({
      error: 'There was an error processing your request.',
      code: 'abc123',
    })
  })
})

describe('toAnswer', () => {
  it('sends one Content-Type, the function’s own spelling and value', () => {
    const answer = toAnswer({
      statusCode: 201,
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'r1' },
      body: { a: 1 },
    })
    expect(answer.status).toBe(201)
    expect(
      Object.keys(answer.headers).filter((name) => name.toLowerCase() === 'content-type'),
    ).toEqual(['Content-Type'])
    expect(JSON.parse(answer.body.toString())).toEqual({ a: 1 })
  })

  it('adds application/json for an object body without a content type, and 204 for no body', () => {
    expect(toAnswer({ body: [1] }).headers).toEqual({ 'content-type': 'application/json' })
    expect(toAnswer({}).status).toBe(204)
  })

  it('keeps only the last of two headers that differ in case', () => {
    const answer = toAnswer({ headers: { vary: 'a', Vary: 'Origin' }, body: 'x' })
    expect(answer.headers).toEqual({ Vary: 'Origin', 'content-type': 'text/html' })
  })

  it('base64-decodes a string body of a binary or JSON type, refusing one that is not base64', () => {
    const png = toAnswer({
      headers: { 'content-type': 'image/png' },
      body: Buffer.from([1, 2]).toString('base64'),
    })
    expect(png.body).toEqual(Buffer.from([1, 2]))
    const text = toAnswer({ headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    expect(text.status).toBe(400)
  })

  it('refuses a result over 1 MB', () => {
    expect(toAnswer({ body: 'x'.repeat(1024 * 1024 + 1) }).status).toBe(502)
    expect(toAnswer({ body: 'x'.repeat(1024 * 1024) }).status).toBe(200)
  })
})
