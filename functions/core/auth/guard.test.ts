import { eq } from 'drizzle-orm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Role, User } from '#core/db/users.ts'
import { AppError } from '#core/errors.ts'
import type { HttpRequest } from '#core/http/types.ts'
import { users } from '#db/schema.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { aUser as aUserRow, bearer, aRequest as request } from '#test/harness.ts'
import { captureLog } from '#test/log.ts'
import { adminKeyDigest, createAdminKeyCheck } from './admin-key.ts'
import { bearerTokenOf, createGuard } from './guard.ts'
import { createAppTokens } from './tokens.ts'

const getDatabase = useTestDatabase()
const SECRET = 'guard-test-secret-key-at-least-32-bytes!'
const ADMIN_KEY = 'apm_guard-test-admin-key-0123456789abcdef'
const MONITOR_TOKEN = 'guard-test-monitor-token-0123456789abcdef'

function setup(options: { digests?: string[] } = {}) {
  const clock = fixedClock()
  const tokens = createAppTokens({ secret: SECRET, ttlHours: 24, clock })
  const captured = captureLog()
  const guard = createGuard({
    db: getDatabase().db,
    log: captured.log,
    tokens,
    adminKeys: createAdminKeyCheck(options.digests ?? [adminKeyDigest(ADMIN_KEY)]),
    monitorTokens: createAdminKeyCheck([adminKeyDigest(MONITOR_TOKEN)]),
  })
  return { clock, tokens, guard, ...captured }
}

const aRequest = (headers: Record<string, string> = {}): HttpRequest =>
  request({ headers, requestId: 'req-guard-test-0001' })

const aUser = (values: { role?: Role; isActive?: boolean } = {}) =>
  aUserRow(getDatabase().db, { role: 'member', ...values })

async function bearerFor(tokens: ReturnType<typeof setup>['tokens'], user: User) {
  const { token } = await tokens.issue(user, { rememberMe: false })
  return bearer(token)
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(err).toBeInstanceOf(AppError)
  return (err as AppError).code
}

describe('guard', () => {
  describe('happy', () => {
    it('authenticates a bearer token and returns the stored user', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const session = await guard.authenticate(aRequest(await bearerFor(tokens, user)))
      expect(session.user).toEqual(user)
      expect(session.claims.userId).toBe(user.id)
    })

    it('accepts the scheme in any case', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const { authorization } = await bearerFor(tokens, user)
      const lower = authorization.replace('Bearer', 'bearer')
      expect((await guard.authenticate(aRequest({ authorization: lower }))).user.id).toBe(user.id)
    })

    it('lets admins pass member checks, and members only member checks', async () => {
      const { guard, tokens } = setup()
      const admin = await aUser({ role: 'admin' })
      const member = await aUser({ role: 'member' })
      expect((await guard.requireRole(aRequest(await bearerFor(tokens, admin)), 'member')).id).toBe(
        admin.id,
      )
      expect(
        (await guard.requireRole(aRequest(await bearerFor(tokens, member)), 'member')).id,
      ).toBe(member.id)
      expect(
        await codeOf(guard.requireRole(aRequest(await bearerFor(tokens, member)), 'admin')),
      ).toBe('FORBIDDEN')
    })

    it('accepts an admin bearer token as admin', async () => {
      const { guard, tokens } = setup()
      const admin = await aUser({ role: 'admin' })
      const principal = await guard.requireAdmin(aRequest(await bearerFor(tokens, admin)))
      expect(principal).toEqual({ kind: 'user', id: admin.id, user: admin })
    })

    it('accepts a configured X-Admin-Key, and logs its id but not the key', async () => {
      const { guard, text } = setup()
      const principal = await guard.requireAdmin(aRequest({ 'x-admin-key': ADMIN_KEY }))
      const id = `admin-key:${adminKeyDigest(ADMIN_KEY).slice(0, 12)}`
      expect(principal).toEqual({ kind: 'admin-key', id })
      expect(text()).toContain(id)
      expect(text()).not.toContain(ADMIN_KEY)
    })

    it('answers isAdmin without throwing', async () => {
      const { guard, tokens } = setup()
      const admin = await aUser({ role: 'admin' })
      const member = await aUser()
      expect(await guard.isAdmin(aRequest(await bearerFor(tokens, admin)))).toBe(true)
      expect(await guard.isAdmin(aRequest({ 'x-admin-key': ADMIN_KEY }))).toBe(true)
      expect(await guard.isAdmin(aRequest(await bearerFor(tokens, member)))).toBe(false)
      expect(await guard.isAdmin(aRequest({ 'x-admin-key': 'wrong' }))).toBe(false)
      expect(await guard.isAdmin(aRequest({ authorization: 'Bearer nonsense' }))).toBe(false)
      expect(await guard.isAdmin(aRequest())).toBe(false)
    })
  })

  describe('errors', () => {
    it.each([
      ['no header', undefined],
      ['another scheme', 'Basic dXNlcjpwYXNz'],
      ['a bare token', 'eyJhbGciOiJIUzI1NiJ9.e30.sig'],
      ['an empty bearer', 'Bearer '],
      ['two tokens', 'Bearer one two'],
      ['an oversized token', `Bearer ${'a'.repeat(5000)}`],
    ])('refuses %s with 401 and a Bearer challenge', (_name, header) => {
      const headers: Record<string, string> = header === undefined ? {} : { authorization: header }
      let caught: unknown
      try {
        bearerTokenOf(headers)
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(AppError)
      expect((caught as AppError).code).toBe('UNAUTHENTICATED')
      expect((caught as AppError).headers).toEqual({ 'WWW-Authenticate': 'Bearer' })
    })
  })

  describe('security', () => {
    it('takes the role from the database, not from the token', async () => {
      const { guard, tokens } = setup()
      const user = await aUser({ role: 'member' })
      const { token } = await tokens.issue({ ...user, role: 'admin' }, { rememberMe: false })
      const req = aRequest({ authorization: `Bearer ${token}` })
      expect(await codeOf(guard.requireAdmin(req))).toBe('FORBIDDEN')
    })

    it('refuses a user deactivated after the token was issued', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const headers = await bearerFor(tokens, user)
      await getDatabase().db.update(users).set({ isActive: false }).where(eq(users.id, user.id))
      expect(await codeOf(guard.authenticate(aRequest(headers)))).toBe('ACCOUNT_DISABLED')
    })

    it('refuses a user whose access was withdrawn after the token was issued', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const headers = await bearerFor(tokens, user)
      await getDatabase().db.update(users).set({ role: 'no_access' }).where(eq(users.id, user.id))
      expect(await codeOf(guard.authenticate(aRequest(headers)))).toBe('ACCESS_PENDING')
    })

    it('refuses a token of an older token version', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const headers = await bearerFor(tokens, user)
      await getDatabase().db.update(users).set({ tokenVersion: 1 }).where(eq(users.id, user.id))
      expect(await codeOf(guard.authenticate(aRequest(headers)))).toBe('UNAUTHENTICATED')
    })

    it('refuses a token of a user that no longer exists', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const headers = await bearerFor(tokens, user)
      await getDatabase().db.delete(users).where(eq(users.id, user.id))
      expect(await codeOf(guard.authenticate(aRequest(headers)))).toBe('UNAUTHENTICATED')
    })

    it('refuses a wrong admin key even beside a valid admin bearer token', async () => {
      const { guard, tokens } = setup()
      const admin = await aUser({ role: 'admin' })
      const req = aRequest({ ...(await bearerFor(tokens, admin)), 'x-admin-key': 'wrong-key' })
      expect(await codeOf(guard.requireAdmin(req))).toBe('UNAUTHENTICATED')
    })

    it('refuses every admin key when no digests are configured', async () => {
      const { guard } = setup({ digests: [] })
      expect(await codeOf(guard.requireAdmin(aRequest({ 'x-admin-key': ADMIN_KEY })))).toBe(
        'UNAUTHENTICATED',
      )
      expect(await codeOf(guard.requireAdmin(aRequest({ 'x-admin-key': '' })))).toBe(
        'UNAUTHENTICATED',
      )
    })

    it('refuses a member and an anonymous caller on the admin path', async () => {
      const { guard, tokens } = setup()
      const member = await aUser()
      expect(await codeOf(guard.requireAdmin(aRequest(await bearerFor(tokens, member))))).toBe(
        'FORBIDDEN',
      )
      expect(await codeOf(guard.requireAdmin(aRequest()))).toBe('UNAUTHENTICATED')
    })

    it('never reads a token from a cookie', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const { token } = await tokens.issue(user, { rememberMe: false })
      const req = aRequest({ cookie: `auth_token=${token}` })
      expect(await codeOf(guard.authenticate(req))).toBe('UNAUTHENTICATED')
    })

    it('refuses random wrong admin keys on the admin path (property)', async () => {
      const { guard } = setup()
      await fc.assert(
        fc.asyncProperty(fc.string({ minLength: 1, maxLength: 100 }), async (key) => {
          fc.pre(key !== ADMIN_KEY)
          expect(await codeOf(guard.requireAdmin(aRequest({ 'x-admin-key': key })))).toBe(
            'UNAUTHENTICATED',
          )
        }),
        { numRuns: 500 },
      )
    })
  })

  describe('identify (the principal the limits count)', () => {
    it('names a valid token by its user, an admin key and a monitor token by their digest', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const prefix = (secret: string) => adminKeyDigest(secret).slice(0, 12)
      expect(await guard.identify(await bearerFor(tokens, user))).toBe(`${user.id}:v0`)
      expect(await guard.identify({ 'x-admin-key': ADMIN_KEY })).toBe(
        `admin-key:${prefix(ADMIN_KEY)}`,
      )
      expect(await guard.identify({ 'x-monitor-token': MONITOR_TOKEN })).toBe(
        `monitor:${prefix(MONITOR_TOKEN)}`,
      )
      expect(guard.isMonitor({ headers: { 'x-monitor-token': MONITOR_TOKEN } })).toBe(true)
    })

    it('reads no database: a valid token of a deleted user still names its user', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const headers = await bearerFor(tokens, user)
      await getDatabase().db.delete(users).where(eq(users.id, user.id))
      expect(await guard.identify(headers)).toBe(`${user.id}:v0`)
    })

    it('counts a user’s tokens by version: after signing out everywhere, new tokens get a new budget', async () => {
      const { guard, tokens } = setup()
      const user = await aUser()
      const old = await bearerFor(tokens, user)
      const [bumped] = await getDatabase()
        .db.update(users)
        .set({ tokenVersion: 1 })
        .where(eq(users.id, user.id))
        .returning()
      const fresh = await bearerFor(tokens, bumped!)
      expect(await guard.identify(old)).toBe(`${user.id}:v0`)
      expect(await guard.identify(fresh)).toBe(`${user.id}:v1`)
    })

    it('names nobody for no credential, or any credential that does not verify', async () => {
      const { guard, tokens, clock } = setup()
      const user = await aUser()
      const foreign = createAppTokens({ secret: `${SECRET}-other`, ttlHours: 24, clock })
      const forged = bearer((await foreign.issue(user, { rememberMe: false })).token)
      const expired = await bearerFor(tokens, user)
      clock.advance(25 * 3600_000)
      for (const headers of [
        {},
        forged,
        expired,
        { authorization: 'Basic dXNlcjpwYXNz' },
        { 'x-admin-key': 'wrong' },
        { 'x-monitor-token': 'wrong' },
        { 'x-admin-key': ADMIN_KEY, authorization: 'Bearer made.up.token' },
        { 'x-monitor-token': MONITOR_TOKEN, 'x-admin-key': 'wrong' },
      ]) {
        expect(await guard.identify(headers), JSON.stringify(headers)).toBeUndefined()
      }
      expect(guard.isMonitor({ headers: { 'x-monitor-token': 'wrong' } })).toBe(false)
      expect(guard.isMonitor({ headers: {} })).toBe(false)
    })

    it('never throws and names nobody for arbitrary credential headers (property)', async () => {
      const { guard } = setup()
      const header = fc.option(fc.string({ maxLength: 300 }), { nil: undefined })
      await fc.assert(
        fc.asyncProperty(header, header, header, async (authorization, key, monitor) => {
          const headers: Record<string, string> = {}
          for (const [name, value] of [
            ['authorization', authorization],
            ['x-admin-key', key],
            ['x-monitor-token', monitor],
          ] as const) {
            if (value !== undefined) {
              headers[name] = value
            }
          }
          expect(await guard.identify(headers)).toBeUndefined()
        }),
        { numRuns: 300 },
      )
    })
  })
})
