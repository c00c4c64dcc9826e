import { randomBytes, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { expect } from 'vitest'
import { createAuth } from '#core/auth/service.ts'
import { keyIdOf, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#core/auth/tokens.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { users } from '#db/schema.ts'
import { createLoginHandler } from '../functions/v1/login/handler.ts'
import { fixedClock } from './clock.ts'
import { useTestDatabase } from './database.ts'
import { aContext, aWebEvent, type EventOptions } from './events.ts'
import { useFakeGoogle } from './fakes.ts'
import { errorOf } from './harness.ts'
import { captureLog } from './log.ts'
import { testServices } from './services.ts'

// The v1/login function as its tests use it: over the file's own database and a fake Google,
// with helpers to mint people, credentials and tokens. Call `useLoginFunction()` once per file.

/** The time every login test runs at. */
export const NOW = new Date('2026-06-01T12:00:00.000Z')
export const NOW_S = NOW.getTime() / 1000
export const SECRET = 'login-test-secret-key-at-least-32-bytes'
export const OLD_SECRET = 'login-test-old-secret-key-at-least-32-bytes'

export type Res = { statusCode: number; headers: Record<string, string>; body?: unknown }
export type SignedInBody = {
  token: string
  expiresAt: string
  user: Record<string, unknown> & { id: string; role: string }
}
type Person = { sub: string; email: string; name?: string }

/** Registers the file's database and fake Google, and returns the login test helpers. */
export function useLoginFunction() {
  const getDatabase = useTestDatabase()
  const google = useFakeGoogle({ now: NOW })

  /** A login function over this file's database and the fake Google, with its own limiter. */
  function loginFunction(
    options: {
      env?: Record<string, string>
      rateLimiter?: RateLimiter
      jwksTimeoutMs?: number
    } = {},
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
    const call = (event: EventOptions = {}) =>
      main(aWebEvent({ ip: `198.51.100.${++ip}`, ...event }), aContext()) as Promise<Res>
    return {
      clock,
      services,
      ...captured,
      call,
      signIn: (body: unknown, event: EventOptions = {}) => call({ method: 'POST', body, ...event }),
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

  function credentialOf(person: Person, claims: Record<string, unknown> = {}) {
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

  return {
    getDatabase,
    google,
    loginFunction,
    aPerson,
    aMember,
    credentialOf,
    tokenFor,
    allUsers,
    expectRefusedWithoutWrites,
  }
}

/** An app token of our shape, signed however a test says. */
export async function anAppToken(
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
