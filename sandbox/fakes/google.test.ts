import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type FakeGoogle, startFakeGoogle } from './google.ts'

const ISSUERS = ['https://accounts.google.com', 'accounts.google.com']

describe('fake google', () => {
  let google: FakeGoogle
  beforeEach(async () => {
    google = await startFakeGoogle()
  })
  afterEach(async () => {
    await google.close()
  })

  // What login does (upstreams §5); a fresh key set unless a test shares one on purpose.
  function verify(
    token: string,
    keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(google.jwksUrl)),
  ) {
    return jwtVerify(token, keys, {
      algorithms: ['RS256'],
      issuer: ISSUERS,
      audience: google.clientId,
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: '60s',
    })
  }

  function certsRequests() {
    return google.requests.filter((r) => r.path === '/oauth2/v3/certs').length
  }

  describe('happy', () => {
    it('mints a token that verifies against the served key set, with valid Google claims', async () => {
      const { payload, protectedHeader } = await verify(await google.mintIdToken())
      expect(protectedHeader).toEqual({ alg: 'RS256', kid: google.currentKid(), typ: 'JWT' })
      expect(payload).toMatchObject({
        iss: 'https://accounts.google.com',
        aud: 'fake-client-id.apps.googleusercontent.com',
        azp: 'fake-client-id.apps.googleusercontent.com',
        email_verified: true,
        hd: 'example.com',
      })
      expect(typeof payload.sub).toBe('string')
      expect(typeof payload.email).toBe('string')
      expect(payload.exp! - payload.iat!).toBe(3600)
      expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5)
    })

    it('serves a public RS256 signing key with kid, and no private parts', async () => {
      const res = await fetch(google.jwksUrl)
      const jwks = (await res.json()) as { keys: Array<Record<string, unknown>> }
      expect(res.status).toBe(200)
      expect(jwks.keys).toEqual([
        {
          kty: 'RSA',
          alg: 'RS256',
          use: 'sig',
          kid: google.currentKid(),
          n: expect.any(String),
          e: 'AQAB',
        },
      ])
    })

    it('overrides claims, and removes the ones given as undefined', async () => {
      const token = await google.mintIdToken({
        iss: 'accounts.google.com',
        email: 'grace@example.org',
        hd: undefined,
        nonce: 'n-1',
      })
      const { payload } = await verify(token)
      expect(payload).toMatchObject({
        iss: 'accounts.google.com',
        email: 'grace@example.org',
        nonce: 'n-1',
      })
      expect(payload).not.toHaveProperty('hd')
      const withoutKid = await google.mintIdToken({}, { kid: undefined })
      expect(decodeProtectedHeader(withoutKid)).toEqual({ alg: 'RS256', typ: 'JWT' })
    })

    it('takes iat and exp from setNow, so expiry can be tested', async () => {
      google.setNow(new Date(Date.now() - 2 * 3600_000))
      await expect(verify(await google.mintIdToken())).rejects.toMatchObject({
        code: 'ERR_JWT_EXPIRED',
      })
      google.setNow(undefined)
      await expect(verify(await google.mintIdToken())).resolves.toBeDefined()
    })
  })

  describe('security', () => {
    it('makes an unsigned alg none token that verification rejects', async () => {
      const token = await google.mintWithAlgNone()
      expect(decodeProtectedHeader(token).alg).toBe('none')
      expect(token.endsWith('.')).toBe(true)
      expect(decodeJwt(token).aud).toBe(google.clientId)
      await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' })
    })

    it('makes a real HS256 token keyed with the public key PEM that verification rejects', async () => {
      const token = await google.mintHs256WithPublicKey()
      const pem = new TextEncoder().encode(await google.publicKeyPem())
      // A verifier that trusts the header's alg would accept it: the attack token is genuine.
      await expect(jwtVerify(token, pem, { algorithms: ['HS256'] })).resolves.toBeDefined()
      expect(decodeProtectedHeader(token).kid).toBe(google.currentKid())
      await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' })
    })

    it('rejects a token signed with the right key under another RS alg', async () => {
      const token = await google.mintIdToken({}, { alg: 'RS512' })
      await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' })
    })

    it('tampers with a claim but keeps the signature, which then fails', async () => {
      const token = await google.mintIdToken()
      const tampered = google.tamper(token)
      expect(decodeJwt(tampered).email).toBe('mallory@evil.example')
      expect(tampered.split('.')[2]).toBe(token.split('.')[2])
      await expect(verify(tampered)).rejects.toMatchObject({
        code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      })
    })

    it('makes a token under an unknown kid that verification rejects', async () => {
      const token = await google.mintWithUnknownKid()
      expect(decodeProtectedHeader(token).kid).not.toBe(google.currentKid())
      await expect(verify(token)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
    })

    it.each([
      [
        'wrong audience',
        { aud: 'someone-else.apps.googleusercontent.com' },
        'ERR_JWT_CLAIM_VALIDATION_FAILED',
      ],
      ['wrong issuer', { iss: 'https://evil.example' }, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
      ['no iat', { iat: undefined }, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ] as const)('mints a %s token that verification rejects', async (_, claims, code) => {
      await expect(verify(await google.mintIdToken(claims))).rejects.toMatchObject({ code })
    })
  })

  describe('rotation', () => {
    it('retires the old key: old-key tokens fail and new-key tokens verify with a fresh key set', async () => {
      const oldToken = await google.mintIdToken()
      const oldKid = google.currentKid()
      const newKid = await google.rotateKey()
      const newToken = await google.mintIdToken()
      expect(newKid).not.toBe(oldKid)
      const keys = createRemoteJWKSet(new URL(google.jwksUrl))
      await expect(verify(oldToken, keys)).rejects.toMatchObject({
        code: 'ERR_JWKS_NO_MATCHING_KEY',
      })
      await expect(verify(newToken, keys)).resolves.toBeDefined()
    })

    it('shows jose cooldown: a cached key set does not refetch for a new kid within 30 s', async () => {
      const keys = createRemoteJWKSet(new URL(google.jwksUrl))
      await verify(await google.mintIdToken(), keys)
      await google.rotateKey()
      const newToken = await google.mintIdToken()
      await expect(verify(newToken, keys)).rejects.toMatchObject({
        code: 'ERR_JWKS_NO_MATCHING_KEY',
      })
      expect(certsRequests()).toBe(1)
      await expect(
        verify(newToken, createRemoteJWKSet(new URL(google.jwksUrl), { cooldownDuration: 0 })),
      ).resolves.toBeDefined()
      expect(certsRequests()).toBe(2)
    })

    it('can keep the previous key served, as Google does during a rollover', async () => {
      const oldToken = await google.mintIdToken()
      await google.rotateKey({ keepPrevious: true })
      const keys = createRemoteJWKSet(new URL(google.jwksUrl))
      await expect(verify(oldToken, keys)).resolves.toBeDefined()
      await expect(verify(await google.mintIdToken(), keys)).resolves.toBeDefined()
    })
  })

  describe('errors', () => {
    it('fails verification when the key set answers 500', async () => {
      google.fail({ kind: 'respond', status: 500, body: { error: 'backend' } })
      await expect(verify(await google.mintIdToken())).rejects.toThrow(/200 OK/)
    })

    it('fails verification when the key set is malformed JSON', async () => {
      google.fail({
        kind: 'respond',
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"keys": [',
      })
      await expect(verify(await google.mintIdToken())).rejects.toThrow(/JSON/)
    })

    it('fails verification when the key set is empty', async () => {
      google.setKeys([])
      await expect(verify(await google.mintIdToken())).rejects.toMatchObject({
        code: 'ERR_JWKS_NO_MATCHING_KEY',
      })
      expect(await (await fetch(google.jwksUrl)).json()).toEqual({ keys: [] })
    })

    it('fails verification when the key set never answers', async () => {
      google.fail({ kind: 'hang' })
      const keys = createRemoteJWKSet(new URL(google.jwksUrl), { timeoutDuration: 200 })
      await expect(verify(await google.mintIdToken(), keys)).rejects.toMatchObject({
        code: 'ERR_JWKS_TIMEOUT',
      })
    })
  })
})
