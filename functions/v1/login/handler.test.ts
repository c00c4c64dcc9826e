import { randomBytes, randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import fc from 'fast-check'
import { base64url, decodeJwt, generateKeyPair, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createAuth } from '#core/auth/service.ts'
import { keyIdOf, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#core/auth/tokens.ts'
import { AppError } from '#core/errors.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { parseInput } from '#core/validation/parse.ts'
import { users } from '#db/schema.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { useFakeGoogle } from '#test/fakes.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createLoginHandler, RefreshBody, SignInBody } from './handler.ts'

const getDatabase = useTestDatabase()
const NOW = new Date('2026-06-01T12:00:00.000Z')
const NOW_S = NOW.getTime() / 1000
const SECRET = 'login-test-secret-key-at-least-32-bytes'
const OLD_SECRET = 'login-test-old-secret-key-at-least-32-bytes'

const google = useFakeGoogle({ now: NOW })

type Res = { statusCode: number; headers: Record<string, string>; body?: unknown }
type ErrorBody = { error: { code: string; message: string; requestId: string; details?: unknown } }
type SignedInBody = {
  token: string
  expiresAt: string
  user: Record<string, unknown> & { id: string; role: string }
}

/** A login function over this file's database and the fake Google, with its own limiter. */
function loginFunction(
  options: { env?: Record<string, string>; rateLimiter?: RateLimiter; jwksTimeoutMs?: number } = {},
) {
  const clock = fixedClock(NOW)
  const captured = captureLog()
  const env = {
    JWT_SECRET_KEY: SECRET,
    GOOGLE_JWKS_URL: google.jwksUrl,
    GOOGLE_CLIENT_ID: google.clientId,
    ALLOWED_EMAIL_DOMAINS: 'example.com',
    ADMIN_EMAILS: 'boss@example.com',
    ...options.env,
  }
  const base = testServices({
    database: getDatabase(),
    clock,
    log: captured.log,
    env,
    ...(options.rateLimiter && { rateLimiter: options.rateLimiter }),
  })
  const services = {
    ...base,
    auth: createAuth(base, { jwksTimeoutMs: options.jwksTimeoutMs ?? 300 }),
  }
  const main = webEntry({
    services: () => services,
    handler: createLoginHandler,
    fallbackLog: captured.log,
  })
  let ip = 0
  // A new client address per call unless a test names one, so only rate-limit tests hit the limit.
  const call = (event: Parameters<typeof aWebEvent>[0] = {}) =>
    main(aWebEvent({ ip: `198.51.100.${++ip}`, ...event }), aContext()) as Promise<Res>
  return {
    clock,
    services,
    ...captured,
    call,
    signIn: (body: unknown, event: Parameters<typeof aWebEvent>[0] = {}) =>
      call({ method: 'POST', body, ...event }),
    me: (token: string) => call({ headers: { authorization: `Bearer ${token}` } }),
    refresh: (token: string, body?: unknown) =>
      call({
        method: 'POST',
        path: '/refresh',
        headers: { authorization: `Bearer ${token}` },
        body,
      }),
    signOut: (token: string) =>
      call({ method: 'DELETE', headers: { authorization: `Bearer ${token}` } }),
  }
}

// Each test signs in its own person.
function aPerson(overrides: { email?: string } = {}) {
  const tag = randomBytes(4).toString('hex')
  return {
    sub: `20${parseInt(tag, 16)}`,
    email: overrides.email ?? `m-${tag}@example.com`,
    name: 'Katherine Johnson',
  }
}

async function aMember(
  overrides: { email?: string; role?: 'member' | 'admin' | 'no_access' } = {},
) {
  const person = aPerson(overrides)
  await getDatabase()
    .db.insert(users)
    .values({ googleSub: person.sub, email: person.email, role: overrides.role ?? 'member' })
  return person
}

function credentialOf(
  person: { sub: string; email: string; name?: string },
  claims: Record<string, unknown> = {},
) {
  const name = person.name ?? 'Katherine Johnson'
  return google.mintIdToken({ sub: person.sub, email: person.email, name, ...claims })
}

async function tokenFor(
  login: ReturnType<typeof loginFunction>,
  person: { sub: string; email: string },
  rememberMe = false,
) {
  const res = await login.signIn({ credential: await credentialOf(person), rememberMe })
  expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
  return (res.body as SignedInBody).token
}

// The whole users table: "nothing written" means it is exactly as before.
async function allUsers() {
  return getDatabase().db.select().from(users).orderBy(users.id)
}

function errorOf(res: Res) {
  return (res.body as ErrorBody).error
}

async function expectRefusedWithoutWrites(
  login: ReturnType<typeof loginFunction>,
  credential: string,
  status: number,
  code: string,
) {
  const before = await allUsers()
  const res = await login.signIn({ credential })
  expect(res.statusCode, JSON.stringify(res.body)).toBe(status)
  expect(errorOf(res).code).toBe(code)
  expect(await allUsers()).toEqual(before)
  return res
}

/** An app token of our shape, signed however a test says. */
async function anAppToken(
  userId: string,
  options: { secret?: string; claims?: Record<string, unknown> } = {},
) {
  const secret = options.secret ?? SECRET
  return new SignJWT({ role: 'member', ver: 0, ...options.claims })
    .setProtectedHeader({ alg: 'HS256', kid: keyIdOf(secret) })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(userId)
    .setJti(randomUUID())
    .setIssuedAt(NOW_S)
    .setExpirationTime(NOW_S + 3600)
    .sign(new TextEncoder().encode(secret))
}

describe('v1/login', () => {
  describe('happy', () => {
    it('signs a member in: a 24 h token, the user, and the last login recorded', async () => {
      const login = loginFunction()
      const person = await aMember()
      const res = await login.signIn({ credential: await credentialOf(person) })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
      const body = res.body as SignedInBody
      expect(body.expiresAt).toBe('2026-06-02T12:00:00.000Z')
      expect(body.user).toEqual({
        id: expect.any(String),
        email: person.email,
        name: 'Katherine Johnson',
        role: 'member',
        isActive: true,
        lastLoginAt: NOW.toISOString(),
        createdAt: expect.any(String),
      })
      expect(decodeJwt(body.token)).toMatchObject({ sub: body.user.id, role: 'member', ver: 0 })
      const [row] = await getDatabase().db.select().from(users).where(eq(users.id, body.user.id))
      expect(row?.lastLoginAt).toEqual(NOW)
    })

    it('gives a 7-day token with rememberMe', async () => {
      const login = loginFunction()
      const person = await aMember()
      const res = await login.signIn({ credential: await credentialOf(person), rememberMe: true })
      expect((res.body as SignedInBody).expiresAt).toBe('2026-06-08T12:00:00.000Z')
    })

    it('answers GET with the current user', async () => {
      const login = loginFunction()
      const person = await aMember()
      const res = await login.me(await tokenFor(login, person))
      expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
      expect(res.body).toMatchObject({ user: { email: person.email, role: 'member' } })
    })

    it('accepts an address whose domain differs only in case (user@Example.COM)', async () => {
      const login = loginFunction()
      const person = await aMember()
      const mixed = person.email.replace('@example.com', '@Example.COM')
      const res = await login.signIn({
        credential: await credentialOf(person, { email: mixed, hd: undefined }),
      })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
    })

    it('makes an ADMIN_EMAILS person admin on first sign-in', async () => {
      const email = `boss-${randomBytes(3).toString('hex')}@example.com`
      const login = loginFunction({
        env: { ADMIN_EMAILS: `someone@example.com, ${email.toUpperCase()}` },
      })
      const res = await login.signIn({ credential: await credentialOf(aPerson({ email })) })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
      expect((res.body as SignedInBody).user.role).toBe('admin')
    })

    it('answers an unknown person 403 ACCESS_PENDING and keeps them for an admin to approve', async () => {
      const login = loginFunction()
      const person = aPerson()
      const res = await login.signIn({ credential: await credentialOf(person) })
      expect(res.statusCode, JSON.stringify(res.body)).toBe(403)
      expect(errorOf(res).code).toBe('ACCESS_PENDING')
      const rows = await getDatabase()
        .db.select()
        .from(users)
        .where(eq(users.googleSub, person.sub))
      expect(rows).toMatchObject([{ email: person.email, role: 'no_access', lastLoginAt: null }])
    })

    it('refreshes a valid token, keeping its rememberMe choice unless told otherwise', async () => {
      const login = loginFunction()
      const person = await aMember()
      const token = await tokenFor(login, person, true)
      login.clock.advance(3600_000)
      const kept = await login.refresh(token)
      expect(kept.statusCode, JSON.stringify(kept.body)).toBe(200)
      expect((kept.body as SignedInBody).expiresAt).toBe('2026-06-08T13:00:00.000Z')
      expect((kept.body as SignedInBody).token).not.toBe(token)
      const shorter = await login.refresh(token, { rememberMe: false })
      expect((shorter.body as SignedInBody).expiresAt).toBe('2026-06-02T13:00:00.000Z')
      expect((await login.me((shorter.body as SignedInBody).token)).statusCode).toBe(200)
    })

    it('signs out everywhere: 204, and every earlier token stops working', async () => {
      const login = loginFunction()
      const person = await aMember()
      const laptop = await tokenFor(login, person)
      const phone = await tokenFor(login, person)
      const res = await login.signOut(laptop)
      expect(res.statusCode, JSON.stringify(res.body)).toBe(204)
      expect(res.body).toBeUndefined()
      expect((await login.me(laptop)).statusCode).toBe(401)
      expect((await login.me(phone)).statusCode).toBe(401)
      expect((await login.me(await tokenFor(login, person))).statusCode).toBe(200)
    })

    it('accepts tokens of the previous secret while JWT_SECRET_KEY rotates', async () => {
      const person = await aMember()
      const before = loginFunction({ env: { JWT_SECRET_KEY: OLD_SECRET } })
      const old = await tokenFor(before, person)
      const during = loginFunction({
        env: { JWT_SECRET_KEY: SECRET, JWT_SECRET_KEY_PREVIOUS: OLD_SECRET },
      })
      expect((await during.me(old)).statusCode).toBe(200)
      const after = loginFunction({ env: { JWT_SECRET_KEY: SECRET } })
      expect((await after.me(old)).statusCode).toBe(401)
    })
  })

  describe('errors', () => {
    it.each([
      ['a missing credential', {}, 'credential'],
      ['an empty credential', { credential: '' }, 'credential'],
      ['an oversized credential', { credential: 'a'.repeat(4097) }, 'credential'],
      ['a numeric credential', { credential: 12345 }, 'credential'],
      ['an object credential', { credential: { token: 'x' } }, 'credential'],
      ['a non-boolean rememberMe', { credential: 'x.y.z', rememberMe: 'yes' }, 'rememberMe'],
      ['an unknown field', { credential: 'x.y.z', admin: true }, 'admin'],
      ['a JSON null body', null, ''],
      ['a JSON array body', ['x.y.z'], 'credential'],
    ])('answers 400 for %s, naming the field, writing nothing', async (_name, body, path) => {
      const login = loginFunction()
      const before = await allUsers()
      const res = await login.signIn(body)
      expect(res.statusCode, JSON.stringify(res.body)).toBe(400)
      const error = errorOf(res)
      expect(error.code).toBe('BAD_REQUEST')
      expect(
        (error.details as { issues: Array<{ path: string }> }).issues.map((i) => i.path),
      ).toContain(path)
      expect(JSON.stringify(res.body)).not.toContain('aaaa')
      expect(await allUsers()).toEqual(before)
    })

    it('parses any JSON body into a sign-in or refresh input or BAD_REQUEST, nothing else (property)', () => {
      const body = fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            credential: fc.oneof(fc.string({ maxLength: 5000 }), fc.jsonValue()),
            rememberMe: fc.oneof(fc.boolean(), fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
      )
      fc.assert(
        fc.property(body, (value) => {
          for (const schema of [SignInBody, RefreshBody]) {
            try {
              parseInput(schema, value)
            } catch (err) {
              expect(err).toBeInstanceOf(AppError)
              expect((err as AppError).code).toBe('BAD_REQUEST')
            }
          }
        }),
        { numRuns: 1000 },
      )
      // The boundaries: exactly 1–4096 characters.
      expect(parseInput(SignInBody, { credential: 'a'.repeat(4096) }).credential).toHaveLength(4096)
      expect(() => parseInput(SignInBody, { credential: 'a'.repeat(4097) })).toThrow(AppError)
      expect(parseInput(SignInBody, { credential: 'a' })).toEqual({
        credential: 'a',
        rememberMe: false,
      })
    })

    it('answers 400 for an empty body and 415 for a body that is not JSON', async () => {
      const login = loginFunction()
      const empty = await login.call({ method: 'POST' })
      expect(empty.statusCode).toBe(400)
      const form = await login.call({
        method: 'POST',
        rawBody: 'credential=abc',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
      expect(form.statusCode).toBe(415)
      const broken = await login.call({ method: 'POST', rawBody: '{"credential":' })
      expect(broken.statusCode).toBe(400)
      expect(errorOf(broken).code).toBe('BAD_REQUEST')
    })

    it('answers 403 ACCOUNT_DISABLED to a disabled account and writes nothing', async () => {
      const login = loginFunction()
      const person = await aMember()
      await getDatabase()
        .db.update(users)
        .set({ isActive: false })
        .where(eq(users.googleSub, person.sub))
      await expectRefusedWithoutWrites(login, await credentialOf(person), 403, 'ACCOUNT_DISABLED')
    })

    it('answers 403 to an address already linked to another Google account', async () => {
      const login = loginFunction()
      const owner = await aMember()
      const impostor = { ...owner, sub: `${owner.sub}1` }
      await expectRefusedWithoutWrites(login, await credentialOf(impostor), 403, 'FORBIDDEN')
    })

    it.each([
      ['answers 500', () => google.fail({ kind: 'respond', status: 500, body: { error: 'x' } })],
      [
        'answers malformed JSON',
        () =>
          google.fail({
            kind: 'respond',
            status: 200,
            body: '{"keys":',
            headers: { 'content-type': 'application/json' },
          }),
      ],
      ['serves no keys', () => google.setKeys([])],
      ['never answers', () => google.fail({ kind: 'hang' })],
    ])('answers 503 when Google key set %s, never signing in unverified', async (_name, fault) => {
      const login = loginFunction()
      const person = await aMember()
      fault()
      const res = await expectRefusedWithoutWrites(
        login,
        await credentialOf(person),
        503,
        'UNAVAILABLE',
      )
      expect(Object.keys(errorOf(res)).sort()).toEqual(['code', 'message', 'requestId'])
      expect(JSON.stringify(res.body)).not.toMatch(/jwks|jose|fetch|127\.0\.0\.1/i)
    })

    it('answers 401 to GET, refresh and DELETE without a token', async () => {
      const login = loginFunction()
      for (const event of [{}, { method: 'POST', path: '/refresh' }, { method: 'DELETE' }]) {
        const res = await login.call(event)
        expect(res.statusCode, JSON.stringify(event)).toBe(401)
        expect(errorOf(res).code).toBe('UNAUTHENTICATED')
        expect(res.headers['WWW-Authenticate']).toBe('Bearer')
      }
    })

    it('answers 400 to a refresh with an unknown field', async () => {
      const login = loginFunction()
      const token = await tokenFor(login, await aMember())
      const res = await login.refresh(token, { rememberMe: true, ttl: 9999 })
      expect(res.statusCode).toBe(400)
    })

    it('answers 405 for another method and 404 for another path', async () => {
      const login = loginFunction()
      const put = await login.call({ method: 'PUT' })
      expect(put.statusCode).toBe(405)
      expect(put.headers.Allow).toBe('POST, GET, DELETE, OPTIONS')
      expect((await login.call({ path: '/users' })).statusCode).toBe(404)
    })
  })

  describe('security', () => {
    describe('Google ID tokens', () => {
      it('refuses alg none', async () => {
        const person = await aMember()
        const token = await google.mintWithAlgNone({ sub: person.sub, email: person.email })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it("refuses HS256 signed with Google's public key", async () => {
        const person = await aMember()
        const token = await google.mintHs256WithPublicKey({ sub: person.sub, email: person.email })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses an expired token', async () => {
        const person = await aMember()
        const token = await credentialOf(person, { iat: NOW_S - 7200, exp: NOW_S - 3600 })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses a token not yet valid (nbf, or iat in the future)', async () => {
        const person = await aMember()
        const login = loginFunction()
        await expectRefusedWithoutWrites(
          login,
          await credentialOf(person, { nbf: NOW_S + 600 }),
          401,
          'UNAUTHENTICATED',
        )
        const future = await credentialOf(person, { iat: NOW_S + 600, exp: NOW_S + 4200 })
        await expectRefusedWithoutWrites(login, future, 401, 'UNAUTHENTICATED')
      })

      it('refuses a token without exp', async () => {
        const person = await aMember()
        const token = await credentialOf(person, { exp: undefined })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses another audience', async () => {
        const person = await aMember()
        const token = await credentialOf(person, { aud: 'someone-else.apps.googleusercontent.com' })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses another issuer', async () => {
        const person = await aMember()
        const token = await credentialOf(person, { iss: 'https://accounts.google.com.evil.test' })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses a tampered payload', async () => {
        const person = await aMember()
        const admin = await aMember({ role: 'admin' })
        const token = google.tamper(await credentialOf(person), {
          sub: admin.sub,
          email: admin.email,
        })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses an unknown kid', async () => {
        const person = await aMember()
        const token = await google.mintWithUnknownKid({ sub: person.sub, email: person.email })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses email_verified false', async () => {
        const token = await credentialOf(aPerson(), { email_verified: false })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses a token without email_verified', async () => {
        const token = await credentialOf(aPerson(), { email_verified: undefined })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
      })

      it('refuses the look-alike domain example.com.evil.test', async () => {
        const token = await credentialOf(aPerson({ email: 'ada@example.com.evil.test' }), {
          hd: undefined,
        })
        await expectRefusedWithoutWrites(loginFunction(), token, 403, 'FORBIDDEN')
      })

      it('refuses the look-alike domain evil-example.com', async () => {
        const token = await credentialOf(aPerson({ email: 'ada@evil-example.com' }), {
          hd: undefined,
        })
        await expectRefusedWithoutWrites(loginFunction(), token, 403, 'FORBIDDEN')
      })

      it('refuses an hd other than the e-mail domain', async () => {
        const token = await credentialOf(aPerson(), { hd: 'evil.test' })
        await expectRefusedWithoutWrites(loginFunction(), token, 403, 'FORBIDDEN')
      })

      it('refuses a credential that is not a token', async () => {
        await expectRefusedWithoutWrites(loginFunction(), 'not-a-jwt', 401, 'UNAUTHENTICATED')
      })
    })

    describe('app tokens', () => {
      async function memberWithId() {
        const login = loginFunction()
        const person = await aMember()
        const token = await tokenFor(login, person)
        return { login, token, id: decodeJwt(token).sub! }
      }

      it('refuses an app token signed RS256', async () => {
        const { login, id } = await memberWithId()
        const { privateKey } = await generateKeyPair('RS256')
        const token = await new SignJWT({ role: 'member', ver: 0 })
          .setProtectedHeader({ alg: 'RS256', kid: keyIdOf(SECRET) })
          .setIssuer(TOKEN_ISSUER)
          .setAudience(TOKEN_AUDIENCE)
          .setSubject(id)
          .setJti(randomUUID())
          .setIssuedAt(NOW_S)
          .setExpirationTime(NOW_S + 3600)
          .sign(privateKey)
        expect((await login.me(token)).statusCode).toBe(401)
      })

      it('refuses an app token signed with another secret', async () => {
        const { login, id } = await memberWithId()
        const token = await anAppToken(id, { secret: 'some-other-secret-that-is-32-bytes-long' })
        expect((await login.me(token)).statusCode).toBe(401)
        // The same forger with our secret passes, so the refusal above is about the secret.
        expect((await login.me(await anAppToken(id))).statusCode).toBe(200)
      })

      it('refuses an unsigned app token', async () => {
        const { login, token } = await memberWithId()
        const [, payload] = token.split('.')
        const header = base64url.encode(JSON.stringify({ alg: 'none', kid: keyIdOf(SECRET) }))
        expect((await login.me(`${header}.${payload}.`)).statusCode).toBe(401)
      })

      it('refuses a tampered app token', async () => {
        const { login, token } = await memberWithId()
        const [header, payload, signature] = token.split('.')
        const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload!)))
        const patched = base64url.encode(JSON.stringify({ ...claims, exp: claims.exp + 86_400 }))
        expect((await login.me(`${header}.${patched}.${signature}`)).statusCode).toBe(401)
      })

      it('refuses an expired app token, for GET and for refresh', async () => {
        const { login, token } = await memberWithId()
        login.clock.advance(24 * 3600_000 + 10_000)
        expect((await login.me(token)).statusCode).toBe(401)
        const refreshed = await login.refresh(token)
        expect(refreshed.statusCode).toBe(401)
        expect(errorOf(refreshed).code).toBe('UNAUTHENTICATED')
      })

      it('refuses refresh 30 days after sign-in, however often the session was renewed', async () => {
        const login = loginFunction()
        const person = await aMember()
        let token = await tokenFor(login, person, true)
        const day = 24 * 3600_000
        for (const at of [6, 12, 18, 24]) {
          login.clock.set(new Date(NOW.getTime() + at * day))
          const renewed = await login.refresh(token)
          expect(renewed.statusCode, JSON.stringify(renewed.body)).toBe(200)
          token = (renewed.body as SignedInBody).token
        }
        // The day-24 token ends with the session, not 7 days later.
        const end = new Date(NOW.getTime() + 30 * day)
        expect(decodeJwt(token)).toMatchObject({ sat: NOW_S, exp: end.getTime() / 1000 })
        login.clock.set(new Date(end.getTime() + 1000)) // within the 5 s clock tolerance
        const refused = await login.refresh(token)
        expect(refused.statusCode, JSON.stringify(refused.body)).toBe(401)
        expect(errorOf(refused)).toMatchObject({
          code: 'UNAUTHENTICATED',
          message: 'This session is too old to renew; sign in again.',
        })
        expect(refused.headers['WWW-Authenticate']).toBe('Bearer')
        // Signing in again opens a new session, which renews.
        google.setNow(login.clock.now())
        const fresh = await tokenFor(login, person, true)
        expect(decodeJwt(fresh).sat).toBe(login.clock.now().getTime() / 1000)
        expect((await login.refresh(fresh)).statusCode).toBe(200)
      })

      it('refuses to refresh a token without a session start, which still works for GET', async () => {
        const { login, id } = await memberWithId()
        const legacy = await anAppToken(id)
        expect((await login.me(legacy)).statusCode).toBe(200)
        const refused = await login.refresh(legacy)
        expect(refused.statusCode, JSON.stringify(refused.body)).toBe(401)
        expect(errorOf(refused)).toMatchObject({
          code: 'UNAUTHENTICATED',
          message: 'This session is too old to renew; sign in again.',
        })
      })

      it('refuses a revoked token after sign-out, also for refresh', async () => {
        const { login, token } = await memberWithId()
        expect((await login.signOut(token)).statusCode).toBe(204)
        expect((await login.refresh(token)).statusCode).toBe(401)
        expect((await login.signOut(token)).statusCode).toBe(401)
      })

      it('refuses a user deactivated after the token was issued', async () => {
        const { login, token, id } = await memberWithId()
        await getDatabase().db.update(users).set({ isActive: false }).where(eq(users.id, id))
        for (const res of [await login.me(token), await login.refresh(token)]) {
          expect(res.statusCode).toBe(403)
          expect(errorOf(res).code).toBe('ACCOUNT_DISABLED')
        }
      })

      it('never reads the token from a cookie', async () => {
        const { login, token } = await memberWithId()
        const res = await login.call({ headers: { cookie: `auth_token=${token}` } })
        expect(res.statusCode).toBe(401)
      })
    })

    describe('rate limits', () => {
      it('answers the last two of 12 sign-in attempts in a minute 429 with Retry-After', async () => {
        const login = loginFunction()
        const statuses: number[] = []
        let last: Res | undefined
        for (let i = 0; i < 12; i++) {
          last = await login.signIn({ credential: `attempt-${i}` }, { ip: '192.0.2.44' })
          statuses.push(last.statusCode)
        }
        expect(statuses).toEqual([...Array(10).fill(401), 429, 429])
        expect(errorOf(last!).code).toBe('RATE_LIMITED')
        expect(Number(last!.headers['Retry-After'])).toBeGreaterThan(0)
        expect(last!.headers['RateLimit-Remaining']).toBe('0')
        // Another address is not affected.
        expect((await login.signIn({ credential: 'x' }, { ip: '192.0.2.45' })).statusCode).toBe(401)
      })

      it('counts refreshes against the same per-address budget', async () => {
        const login = loginFunction()
        const token = await tokenFor(login, await aMember())
        for (let i = 0; i < 10; i++) {
          const res = await login.call({
            method: 'POST',
            path: '/refresh',
            headers: { authorization: `Bearer ${token}` },
            ip: '192.0.2.60',
          })
          expect(res.statusCode).toBe(200)
        }
        const signIn = await login.signIn({ credential: 'x' }, { ip: '192.0.2.60' })
        expect(signIn.statusCode).toBe(429)
      })

      it('refuses sign-in with 503 when the rate-limit store is down (fails closed)', async () => {
        const down: RateLimiter = {
          consume: async () => ({ kind: 'unavailable', reason: 'timeout' }),
          check: async () => ({ ok: false, store: 'upstash' }),
        }
        const login = loginFunction({ rateLimiter: down })
        const person = await aMember()
        const res = await expectRefusedWithoutWrites(
          login,
          await credentialOf(person),
          503,
          'UNAVAILABLE',
        )
        expect(res.headers['Retry-After']).toBe('30')
      })
    })

    it('never logs a credential, a token or a secret', async () => {
      const login = loginFunction()
      const person = await aMember()
      const credential = await credentialOf(person)
      const ok = await login.signIn({ credential })
      const token = (ok.body as SignedInBody).token
      await login.me(token)
      await login.refresh(token)
      const refused = await credentialOf(aPerson(), { aud: 'other' })
      await login.signIn({ credential: refused })
      await login.signOut(token)
      await login.me(token)
      const text = login.text()
      expect(text).toContain('sign-in accepted')
      expect(text).toContain('sign-in refused')
      for (const secret of [
        credential,
        refused,
        token,
        SECRET,
        token.split('.')[2]!,
        credential.split('.')[2]!,
      ]) {
        expect(text).not.toContain(secret)
      }
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/)
    })

    it('logs each sign-in outcome with the user id and the reason', async () => {
      const login = loginFunction()
      const person = await aMember()
      const ok = await login.signIn({ credential: await credentialOf(person) })
      await login.signIn({ credential: await credentialOf(aPerson(), { email_verified: false }) })
      const outcomes = login.lines.filter((line) => 'outcome' in line)
      expect(outcomes).toEqual([
        expect.objectContaining({ outcome: 'accepted', userId: (ok.body as SignedInBody).user.id }),
        expect.objectContaining({ outcome: 'refused', reason: 'email-unverified' }),
      ])
      expect(outcomes.every((line) => typeof line.requestId === 'string')).toBe(true)
    })
  })
})
