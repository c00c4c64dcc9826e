import { randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { users } from '#db/schema.ts'
import { useTestDatabase } from '#test/database.ts'
import {
  bumpTokenVersion,
  findSignInCandidates,
  findUserById,
  insertUser,
  isUniqueViolation,
  linkGoogleSub,
  recordSignIn,
} from './users.ts'

const getDatabase = useTestDatabase()
const AT = new Date('2026-06-01T12:00:00.000Z')

// Tests share this file's database: each works on its own addresses and subs.
function unique() {
  const tag = randomBytes(4).toString('hex')
  return { email: `user-${tag}@example.com`, googleSub: `sub-${tag}` }
}

async function aStoredUser(values: Partial<typeof users.$inferInsert> = {}) {
  const [user] = await getDatabase()
    .db.insert(users)
    .values({ ...unique(), name: 'Someone', role: 'member', ...values })
    .returning()
  return user!
}

describe('users queries', () => {
  describe('happy', () => {
    it('finds a user by id', async () => {
      const user = await aStoredUser()
      expect(await findUserById(getDatabase().db, user.id)).toEqual(user)
    })

    it('finds sign-in candidates by sub and by e-mail, the e-mail case-insensitively', async () => {
      const linked = await aStoredUser()
      const byEmail = await aStoredUser({ googleSub: null, email: 'Pre.Provisioned@Example.com' })
      const found = await findSignInCandidates(getDatabase().db, {
        googleSub: linked.googleSub!,
        email: 'pre.provisioned@example.COM',
      })
      expect(found.bySub?.id).toBe(linked.id)
      expect(found.byEmail?.id).toBe(byEmail.id)
    })

    it('inserts a user', async () => {
      const values = { ...unique(), name: 'New', role: 'no_access' as const }
      const user = await insertUser(getDatabase().db, values)
      expect(user).toMatchObject({ ...values, isActive: true, tokenVersion: 0, lastLoginAt: null })
    })

    it('links a pre-provisioned row to its Google sub once', async () => {
      const row = await aStoredUser({ googleSub: null })
      const linked = await linkGoogleSub(getDatabase().db, row.id, 'sub-first-link', AT)
      expect(linked?.googleSub).toBe('sub-first-link')
      expect(await linkGoogleSub(getDatabase().db, row.id, 'sub-second-link', AT)).toBeUndefined()
      expect((await findUserById(getDatabase().db, row.id))?.googleSub).toBe('sub-first-link')
    })

    it('records a sign-in, with the name and an admin promotion when asked', async () => {
      const row = await aStoredUser({ name: 'Old Name' })
      const db = getDatabase().db
      const plain = await recordSignIn(db, row.id, {
        at: AT,
        name: undefined,
        promoteToAdmin: false,
      })
      expect(plain).toMatchObject({ name: 'Old Name', role: 'member', lastLoginAt: AT })
      const promoted = await recordSignIn(db, row.id, { at: AT, name: 'New', promoteToAdmin: true })
      expect(promoted).toMatchObject({ name: 'New', role: 'admin' })
    })

    it('bumps the token version', async () => {
      const row = await aStoredUser()
      expect((await bumpTokenVersion(getDatabase().db, row.id, AT))?.tokenVersion).toBe(1)
      expect((await bumpTokenVersion(getDatabase().db, row.id, AT))?.tokenVersion).toBe(2)
    })
  })

  describe('errors', () => {
    it('answers undefined for an id that is not a uuid, which the database would refuse', async () => {
      expect(await findUserById(getDatabase().db, "x' or 1=1 --")).toBeUndefined()
      expect(
        await findUserById(getDatabase().db, '00000000-0000-4000-8000-000000000000'),
      ).toBeUndefined()
    })

    it('answers undefined when the sub or the e-mail is already taken', async () => {
      const taken = await aStoredUser()
      const db = getDatabase().db
      const sameSub = {
        ...unique(),
        googleSub: taken.googleSub!,
        name: '',
        role: 'no_access' as const,
      }
      expect(await insertUser(db, sameSub)).toBeUndefined()
      const sameEmail = {
        ...unique(),
        email: taken.email.toUpperCase(),
        name: '',
        role: 'no_access' as const,
      }
      expect(await insertUser(db, sameEmail)).toBeUndefined()
    })

    it('answers undefined when linking to a sub another row holds', async () => {
      const holder = await aStoredUser()
      const row = await aStoredUser({ googleSub: null })
      expect(await linkGoogleSub(getDatabase().db, row.id, holder.googleSub!, AT)).toBeUndefined()
    })

    it('does not record a sign-in for an inactive user', async () => {
      const row = await aStoredUser({ isActive: false })
      const db = getDatabase().db
      expect(
        await recordSignIn(db, row.id, { at: AT, name: 'X', promoteToAdmin: true }),
      ).toBeUndefined()
      const [stored] = await db.select().from(users).where(eq(users.id, row.id))
      expect(stored).toEqual(row)
    })

    it('recognises a unique violation bare or wrapped', () => {
      expect(isUniqueViolation({ code: '23505' })).toBe(true)
      expect(isUniqueViolation(new Error('wrapped', { cause: { code: '23505' } }))).toBe(true)
      expect(isUniqueViolation({ code: '23503' })).toBe(false)
      expect(isUniqueViolation(null)).toBe(false)
    })
  })
})
