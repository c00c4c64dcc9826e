import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fixedClock } from '#test/clock.ts'
import { useFakeGoogle } from '#test/fakes.ts'
import { createGoogleVerifier, type GoogleVerifierOptions } from './google.ts'

const NOW = new Date('2026-06-01T12:00:00.000Z')
const NOW_S = NOW.getTime() / 1000

const google = useFakeGoogle({ now: NOW })

function verifier(options: Partial<GoogleVerifierOptions> = {}) {
  return createGoogleVerifier({
    clientId: google.clientId,
    jwksUrl: google.jwksUrl,
    allowedDomains: ['example.com'],
    clock: fixedClock(NOW),
    jwksTimeoutMs: 300,
    ...options,
  })
}

function certsFetches() {
  return google.requests.filter((req) => req.path === '/oauth2/v3/certs').length
}

describe('google ID tokens', () => {
  describe('happy', () => {
    it('accepts a valid token and returns the identity', async () => {
      const token = await google.mintIdToken({ sub: '1001', email: 'ada@example.com' })
      expect(await verifier().verify(token)).toEqual({
        ok: true,
        identity: {
          sub: '1001',
          email: 'ada@example.com',
          domain: 'example.com',
          hostedDomain: 'example.com',
          name: 'Ada Lovelace',
        },
      })
    })

    it('accepts both issuer spellings', async () => {
      const v = verifier()
      for (const iss of ['accounts.google.com', 'https://accounts.google.com']) {
        expect((await v.verify(await google.mintIdToken({ iss }))).ok, iss).toBe(true)
      }
    })

    it('matches the domain case-insensitively and accepts a consumer account without hd', async () => {
      const token = await google.mintIdToken({ email: 'Ada@Example.COM', hd: undefined })
      const result = await verifier().verify(token)
      expect(result).toMatchObject({
        ok: true,
        identity: { email: 'Ada@Example.COM', domain: 'example.com', hostedDomain: undefined },
      })
    })

    it('tolerates 60 s of clock skew, and no more', async () => {
      const v = verifier()
      expect((await v.verify(await google.mintIdToken({ exp: NOW_S - 59 }))).ok).toBe(true)
      expect(await v.verify(await google.mintIdToken({ exp: NOW_S - 61 }))).toMatchObject({
        ok: false,
        reason: 'expired',
      })
    })

    it('fetches the key set once per verifier, not per token', async () => {
      const before = certsFetches()
      const v = verifier()
      await v.verify(await google.mintIdToken())
      await v.verify(await google.mintIdToken())
      expect(certsFetches() - before).toBe(1)
      await verifier().verify(await google.mintIdToken())
      expect(certsFetches() - before).toBe(2)
    })

    it('follows a key rotation once the cooldown has passed', async () => {
      const v = verifier({ jwksCooldownMs: 0 })
      expect((await v.verify(await google.mintIdToken())).ok).toBe(true)
      await google.rotateKey()
      expect((await v.verify(await google.mintIdToken())).ok).toBe(true)
    })
  })

  describe('security', () => {
    it.each([
      ['alg none', () => google.mintWithAlgNone()],
      ['HS256 keyed with the public key (PEM)', () => google.mintHs256WithPublicKey()],
      ['HS256 keyed with the public key (JWK)', () => google.mintHs256WithPublicKey({}, 'jwk')],
      ['RS384 with the right key', () => google.mintIdToken({}, { alg: 'RS384' })],
      ['an unknown kid', () => google.mintWithUnknownKid()],
      ['a tampered payload', async () => google.tamper(await google.mintIdToken())],
      ['another audience', () => google.mintIdToken({ aud: 'other.apps.googleusercontent.com' })],
      ['another issuer', () => google.mintIdToken({ iss: 'https://evil.example' })],
      ['no exp', () => google.mintIdToken({ exp: undefined })],
      ['no iat', () => google.mintIdToken({ iat: undefined })],
      ['no sub', () => google.mintIdToken({ sub: undefined })],
      ['no email', () => google.mintIdToken({ email: undefined })],
      ['an iat in the future', () => google.mintIdToken({ iat: NOW_S + 300, exp: NOW_S + 3900 })],
      ['an nbf in the future', () => google.mintIdToken({ nbf: NOW_S + 300 })],
      ['an exp more than a day away', () => google.mintIdToken({ exp: NOW_S + 2 * 86_400 })],
      ['an e-mail with two @', () => google.mintIdToken({ email: 'a@evil.test@example.com' })],
    ])('refuses %s as an invalid token', async (_name, mint) => {
      expect(await verifier().verify(await mint())).toMatchObject({
        ok: false,
        reason: 'invalid-token',
      })
    })

    it.each([
      ['false', false],
      ['absent', undefined],
    ])('refuses email_verified %s', async (_name, value) => {
      const token = await google.mintIdToken({ email_verified: value })
      expect(await verifier().verify(token)).toEqual({ ok: false, reason: 'email-unverified' })
    })

    it('refuses email_verified sent as the string "true"', async () => {
      const token = await google.mintIdToken({ email_verified: 'true' as unknown as boolean })
      expect(await verifier().verify(token)).toEqual({ ok: false, reason: 'email-unverified' })
    })

    it.each([
      'ada@example.com.evil.test',
      'ada@evil-example.com',
      'ada@sub.example.com',
      'ada@example.co',
    ])('refuses the look-alike domain of %s', async (email) => {
      const token = await google.mintIdToken({ email, hd: undefined })
      expect(await verifier().verify(token)).toEqual({ ok: false, reason: 'domain-not-allowed' })
    })

    it('refuses an hd that differs from the e-mail domain', async () => {
      const token = await google.mintIdToken({ email: 'ada@example.com', hd: 'evil.test' })
      expect(await verifier().verify(token)).toEqual({ ok: false, reason: 'hd-mismatch' })
    })

    it('accepts an aud array holding ours: alone, or beside others when azp is ours', async () => {
      const v = verifier()
      const other = 'other.apps.googleusercontent.com'
      expect((await v.verify(await google.mintIdToken({ aud: [google.clientId] }))).ok).toBe(true)
      const both = await google.mintIdToken({ aud: [other, google.clientId], azp: google.clientId })
      expect((await v.verify(both)).ok).toBe(true)
    })

    it.each([
      ['azp is another client', { azp: 'other.apps.googleusercontent.com' }],
      ['azp is missing', { azp: undefined }],
    ])('refuses an aud array holding ours and others when %s', async (_name, claims) => {
      const aud = ['other.apps.googleusercontent.com', google.clientId]
      expect(await verifier().verify(await google.mintIdToken({ aud, ...claims }))).toEqual({
        ok: false,
        reason: 'invalid-token',
        detail: 'azp',
      })
    })

    it('refuses an aud array without ours', async () => {
      const token = await google.mintIdToken({ aud: ['a.apps.googleusercontent.com', 'b'] })
      expect(await verifier().verify(token)).toMatchObject({ ok: false, reason: 'invalid-token' })
    })

    it('refuses a look-alike address that lower-cases onto an allowed one (Kelvin sign)', async () => {
      const v = verifier({ allowedDomains: ['acme.co.uk'] })
      // U+212A KELVIN SIGN lower-cases to a plain k.
      expect('lead@acme.co.u\u212a'.toLowerCase()).toBe('lead@acme.co.uk')
      for (const claims of [
        { email: 'lead@acme.co.u\u212a', hd: 'acme.co.uk' },
        { email: 'lead@acme.co.u\u212a', hd: undefined },
        { email: 'lead@acme.co.uk', hd: 'acme.co.u\u212a' },
        { email: 'lea\u212a@acme.co.uk', hd: 'acme.co.uk' },
      ]) {
        expect(await v.verify(await google.mintIdToken(claims)), claims.email).toEqual({
          ok: false,
          reason: 'email-not-ascii',
        })
      }
    })

    it('refuses any e-mail with a character outside ASCII (property)', async () => {
      const v = verifier()
      const foreign = fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 2 })
        .filter((text) => [...text].some((ch) => (ch.codePointAt(0) ?? 0) > 0x7f))
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: 'ada@example.com'.length }), foreign, async (at, text) => {
          const email = `${'ada@example.com'.slice(0, at)}${text}${'ada@example.com'.slice(at)}`
          const result = await v.verify(await google.mintIdToken({ email }))
          expect(result.ok, email).toBe(false)
        }),
        { numRuns: 150 },
      )
    })

    it('never throws for an arbitrary credential string (property)', async () => {
      const v = verifier()
      const valid = await google.mintIdToken()
      const candidate = fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.tuple(fc.string(), fc.string(), fc.string()).map((parts) => parts.join('.')),
        fc.nat({ max: valid.length - 1 }).map((cut) => valid.slice(0, cut)),
      )
      await fc.assert(
        fc.asyncProperty(candidate, async (credential) => {
          const result = await v.verify(credential)
          expect(result.ok).toBe(false)
        }),
        { numRuns: 200 },
      )
    })
  })

  describe('errors', () => {
    it('reports keys-unavailable when the key set answers 500', async () => {
      google.fail({ kind: 'respond', status: 500, body: { error: 'backend' } })
      expect(await verifier().verify(await google.mintIdToken())).toMatchObject({
        ok: false,
        reason: 'keys-unavailable',
      })
    })

    it('reports keys-unavailable for malformed JSON', async () => {
      google.fail({
        kind: 'respond',
        status: 200,
        body: '{"keys": [',
        headers: { 'content-type': 'application/json' },
      })
      expect(await verifier().verify(await google.mintIdToken())).toMatchObject({
        ok: false,
        reason: 'keys-unavailable',
      })
    })

    it('reports keys-unavailable for an empty or malformed key set', async () => {
      google.setKeys([])
      expect(await verifier().verify(await google.mintIdToken())).toMatchObject({
        ok: false,
        reason: 'keys-unavailable',
      })
      google.fail({ kind: 'respond', status: 200, body: { nope: true } })
      expect(await verifier().verify(await google.mintIdToken())).toMatchObject({
        ok: false,
        reason: 'keys-unavailable',
      })
    })

    it('reports keys-unavailable when the key set never answers, by its time-out', async () => {
      google.fail({ kind: 'hang' })
      expect(await verifier().verify(await google.mintIdToken())).toEqual({
        ok: false,
        reason: 'keys-unavailable',
        detail: 'JWKSTimeout',
      })
    })

    it('reports keys-unavailable when the key set host refuses connections', async () => {
      const v = verifier({ jwksUrl: 'http://127.0.0.1:9/oauth2/v3/certs' })
      expect(await v.verify(await google.mintIdToken())).toMatchObject({
        ok: false,
        reason: 'keys-unavailable',
      })
    })
  })
})
