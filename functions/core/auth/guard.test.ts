import { eq } from 'drizzle-orm'
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

function setup(options: { digests?: string[] } = {}) {
  const clock = fixedClock()
  const tokens = createAppTokens({ secret: SECRET, ttlHours: 24, clock })
  const captured = captureLog()
  const guard = createGuard({
    db: getDatabase().db,
    log: captured.log,
    tokens,
    adminKeys: createAdminKeyCheck(options.digests ?? [adminKeyDigest(ADMIN_KEY)]),
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
  })
})
