import { describe, expect, it } from 'vitest'
import { captureLog } from '#test/log.ts'

describe('createLogger', () => {
  it('redacts secrets at any depth', () => {
    const { log, text } = captureLog()
    log.info(
      {
        headers: { authorization: 'Bearer abc.def.ghi', 'x-admin-key': 'k-123' },
        body: { credential: 'google-id-token', nested: { apiKey: 'pc-key', token: 'tok' } },
      },
      'request',
    )
    const out = text()
    for (const secret of ['abc.def.ghi', 'k-123', 'google-id-token', 'pc-key', '"tok"']) {
      expect(out).not.toContain(secret)
    }
    expect(out).toContain('[redacted]')
  })

  it('scrubs credentials and quoted commands out of error messages and stacks', () => {
    const { log, text } = captureLog()
    const err = new Error(
      'UpstashError: ERR bad, command was: ["evalsha","x","ip:1.2.3.4"] Bearer s3cr3t',
    )
    log.error({ err }, 'failed')
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'
    log.error({ err: new Error(`token ${jwt} rejected; header Basic dXNlcjpwYXNz`) }, 'failed')
    const out = text()
    expect(out).not.toContain('1.2.3.4')
    expect(out).not.toContain('s3cr3t')
    expect(out).not.toContain(jwt)
    expect(out).not.toContain('dXNlcjpwYXNz')
  })
})
