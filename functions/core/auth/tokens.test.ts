import { randomUUID } from 'node:crypto'
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { fixedClock } from '#test/clock.ts'
import {
  createAppTokens,
  keyIdOf,
  MAX_SESSION_AGE_SECONDS,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
} from './tokens.ts'

const SECRET = 'current-secret-key-that-is-at-least-32-bytes'
const OLD_SECRET = 'previous-secret-key-that-is-at-least-32-bytes'
const USER = {
  id: '6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
  role: 'member' as const,
  tokenVersion: 3,
}

function tokens(overrides: Partial<Parameters<typeof createAppTokens>[0]> = {}) {
  const clock = fixedClock()
  return { clock, tokens: createAppTokens({ secret: SECRET, ttlHours: 24, clock, ...overrides }) }
}

/** A token of our shape, signed however a test says. */
async function forged(
  options: {
    secret?: string
    kid?: string
    claims?: Record<string, unknown>
    omit?: string[]
    now?: Date
  } = {},
) {
  const secret = options.secret ?? SECRET
  const iat = Math.floor((options.now ?? fixedClock().now()).getTime() / 1000)
  const claims: Record<string, unknown> = {
    iss: TOKEN_ISSUER,
    aud: TOKEN_AUDIENCE,
    sub: USER.id,
    role: 'member',
    ver: 3,
    jti: randomUUID(),
    iat,
    exp: iat + 3600,
    ...options.claims,
  }
  for (const name of options.omit ?? []) {
    delete claims[name]
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: options.kid ?? keyIdOf(secret) })
    .sign(new TextEncoder().encode(secret))
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(err).toBeInstanceOf(AppError)
  return err as AppError
}

describe('app tokens', () => {
  describe('happy', () => {
    it('issues an HS256 token with our claims that verifies back', async () => {
      const { tokens: t, clock } = tokens()
      const issued = await t.issue(USER, { rememberMe: false })
      expect(decodeProtectedHeader(issued.token)).toEqual({
        alg: 'HS256',
        typ: 'JWT',
        kid: keyIdOf(SECRET),
      })
      const payload = decodeJwt(issued.token)
      expect(payload).toMatchObject({
        iss: 'agent-pm',
        aud: 'agent-pm-api',
        sub: USER.id,
        role: 'member',
        ver: 3,
        rme: false,
        sat: clock.now().getTime() / 1000,
      })
      expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/)
      expect(issued.expiresAt.getTime() - clock.now().getTime()).toBe(24 * 3600 * 1000)
      const claims = await t.verify(issued.token)
      expect(claims).toEqual({
        userId: USER.id,
        role: 'member',
        version: 3,
        rememberMe: false,
        tokenId: payload.jti,
        issuedAt: clock.now(),
        expiresAt: issued.expiresAt,
        sessionStartedAt: clock.now(),
      })
    })

    it('carries a given session start over, and expires no token past 30 days after it', async () => {
      const { tokens: t, clock } = tokens()
      expect(MAX_SESSION_AGE_SECONDS).toBe(30 * 24 * 3600)
      const started = new Date(clock.now().getTime() - 20 * 24 * 3600_000)
      const early = await t.issue(USER, { rememberMe: true, sessionStartedAt: started })
      expect(early.expiresAt.getTime() - clock.now().getTime()).toBe(7 * 24 * 3600_000)
      expect((await t.verify(early.token)).sessionStartedAt).toEqual(started)
      clock.advance(9 * 24 * 3600_000) // day 29 of the session
      const late = await t.issue(USER, { rememberMe: true, sessionStartedAt: started })
      expect(late.expiresAt).toEqual(new Date(started.getTime() + MAX_SESSION_AGE_SECONDS * 1000))
      expect(await t.verify(late.token)).toMatchObject({
        sessionStartedAt: started,
        expiresAt: late.expiresAt,
      })
    })

    it('reads a token without a session start (from before sat) as one of unknown start', async () => {
      const { tokens: t } = tokens()
      expect((await t.verify(await forged())).sessionStartedAt).toBeNull()
    })

    it('makes remember-me tokens live seven times as long', async () => {
      const { tokens: t, clock } = tokens({ ttlHours: 2 })
      const issued = await t.issue(USER, { rememberMe: true })
      expect(issued.expiresAt.getTime() - clock.now().getTime()).toBe(14 * 3600 * 1000)
      clock.advance(13 * 3600 * 1000)
      expect((await t.verify(issued.token)).rememberMe).toBe(true)
    })

    it('accepts tokens of the previous secret during a rotation, by kid', async () => {
      const before = tokens({ secret: OLD_SECRET })
      const old = await before.tokens.issue(USER, { rememberMe: false })
      const during = tokens({ secret: SECRET, previousSecret: OLD_SECRET })
      expect((await during.tokens.verify(old.token)).userId).toBe(USER.id)
      const fresh = await during.tokens.issue(USER, { rememberMe: false })
      expect(decodeProtectedHeader(fresh.token).kid).toBe(keyIdOf(SECRET))
      const after = tokens({ secret: SECRET })
      expect((await rejection(after.tokens.verify(old.token))).code).toBe('UNAUTHENTICATED')
    })

    it('derives a short kid that differs per secret', () => {
      expect(keyIdOf(SECRET)).toMatch(/^[0-9a-f]{16}$/)
      expect(keyIdOf(SECRET)).not.toBe(keyIdOf(OLD_SECRET))
    })
  })

  describe('security', () => {
    it('refuses an expired token, beyond a 5 s tolerance', async () => {
      const { tokens: t, clock } = tokens()
      const issued = await t.issue(USER, { rememberMe: false })
      clock.advance(24 * 3600 * 1000 + 4000)
      await t.verify(issued.token)
      clock.advance(2000)
      const err = await rejection(t.verify(issued.token))
      expect(err.code).toBe('UNAUTHENTICATED')
      expect(err.headers).toEqual({ 'WWW-Authenticate': 'Bearer' })
    })

    it('refuses a token issued in the future', async () => {
      const { tokens: t, clock } = tokens()
      const later = new Date(clock.now().getTime() + 60_000)
      const err = await rejection(t.verify(await forged({ now: later })))
      expect(err.code).toBe('UNAUTHENTICATED')
    })

    it('refuses a token signed with another secret under our kid', async () => {
      const { tokens: t } = tokens()
      const token = await forged({ secret: OLD_SECRET, kid: keyIdOf(SECRET) })
      expect((await rejection(t.verify(token))).code).toBe('UNAUTHENTICATED')
    })

    it('refuses an unknown kid and a missing one', async () => {
      const { tokens: t } = tokens()
      expect((await rejection(t.verify(await forged({ kid: 'ffffffffffffffff' })))).code).toBe(
        'UNAUTHENTICATED',
      )
      const noKid = await new SignJWT({ sub: USER.id })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(SECRET))
      expect((await rejection(t.verify(noKid))).code).toBe('UNAUTHENTICATED')
    })

    it('refuses an RS256 token even with a matching kid', async () => {
      const { tokens: t, clock } = tokens()
      const { privateKey } = await generateKeyPair('RS256')
      const iat = Math.floor(clock.now().getTime() / 1000)
      const token = await new SignJWT({ role: 'admin', ver: 3, jti: randomUUID() })
        .setProtectedHeader({ alg: 'RS256', kid: keyIdOf(SECRET) })
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(USER.id)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 3600)
        .sign(privateKey)
      expect((await rejection(t.verify(token))).code).toBe('UNAUTHENTICATED')
    })

    it('refuses an unsigned alg none token', async () => {
      const { tokens: t } = tokens()
      const [, payload] = (await forged({ claims: { role: 'admin' } })).split('.')
      const header = base64url.encode(JSON.stringify({ alg: 'none', kid: keyIdOf(SECRET) }))
      expect((await rejection(t.verify(`${header}.${payload}.`))).code).toBe('UNAUTHENTICATED')
    })

    it('refuses a tampered payload', async () => {
      const { tokens: t } = tokens()
      const [header, payload, signature] = (await forged()).split('.')
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!)))
      const patched = base64url.encode(JSON.stringify({ ...claims, role: 'admin' }))
      expect((await rejection(t.verify(`${header}.${patched}.${signature}`))).code).toBe(
        'UNAUTHENTICATED',
      )
    })

    it.each([
      ['a missing exp', { omit: ['exp'] }],
      ['a missing iat', { omit: ['iat'] }],
      ['a missing jti', { omit: ['jti'] }],
      ['another issuer', { claims: { iss: 'accounts.google.com' } }],
      ['another audience', { claims: { aud: 'someone-else' } }],
      ['a subject that is not a user id', { claims: { sub: "1' or '1'='1" } }],
      ['a non-numeric version', { claims: { ver: '3' } }],
      ['an unknown role', { claims: { role: 'owner' } }],
      ['a non-numeric session start', { claims: { sat: '2026-06-01' } }],
      ['a fractional session start', { claims: { sat: 1.5 } }],
    ])('refuses %s', async (_name, options) => {
      const { tokens: t } = tokens()
      expect((await rejection(t.verify(await forged(options)))).code).toBe('UNAUTHENTICATED')
    })

    it('refuses strings that are not tokens at all', async () => {
      const { tokens: t } = tokens()
      for (const token of ['', 'abc', 'a.b.c', '..', 'eyJ.eyJ.', '\u0000.\u0000.\u0000']) {
        expect((await rejection(t.verify(token))).code, token).toBe('UNAUTHENTICATED')
      }
    })
  })
})
