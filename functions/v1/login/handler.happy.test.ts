import { randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { users } from '#db/schema.ts'
import { errorOf } from '#test/harness.ts'
import { NOW, OLD_SECRET, SECRET, type SignedInBody, useLoginFunction } from '#test/login.ts'

const { getDatabase, loginFunction, aPerson, aMember, credentialOf, tokenFor } = useLoginFunction()

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
      // A personal account (no hd): on a domain that is not on Workspace.
      const login = loginFunction({ env: { WORKSPACE_DOMAINS: 'none' } })
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
})
