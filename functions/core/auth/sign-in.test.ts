import { randomBytes } from 'node:crypto'
import { eq, or, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { users } from '#db/schema.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeGoogle } from '#test/fakes.ts'
import { createGoogleVerifier, type GoogleVerifier } from './google.ts'
import { createSignIn } from './sign-in.ts'
import { createAppTokens } from './tokens.ts'

const getDatabase = useTestDatabase({ poolMax: 10 })
const NOW = new Date('2026-06-01T12:00:00.000Z')

const google = useFakeGoogle({ now: NOW })

// example.com is a Workspace domain unless a test says otherwise, as WORKSPACE_DOMAINS defaults.
function signIn(
  adminEmails: string[] = [],
  verifier?: GoogleVerifier,
  workspaceDomains = ['example.com'],
) {
  const clock = fixedClock(NOW)
  return createSignIn({
    db: getDatabase().db,
    clock,
    google:
      verifier ??
      createGoogleVerifier({
        clientId: google.clientId,
        jwksUrl: google.jwksUrl,
        allowedDomains: ['example.com'],
        clock,
      }),
    tokens: createAppTokens({
      secret: 'sign-in-test-secret-at-least-32-bytes',
      ttlHours: 24,
      clock,
    }),
    adminEmails,
    workspaceDomains,
  })
}

// Each test signs in its own person.
function aPerson(name = 'Grace Hopper') {
  const tag = randomBytes(4).toString('hex')
  return { sub: `10${parseInt(tag, 16)}`, email: `p-${tag}@example.com`, name }
}

async function rowsOf(person: { sub: string; email: string }) {
  return getDatabase()
    .db.select()
    .from(users)
    .where(
      or(
        eq(users.googleSub, person.sub),
        sql`lower(${users.email}) = ${person.email.toLowerCase()}`,
      ),
    )
}

async function credentialOf(
  person: { sub: string; email: string; name: string },
  claims: { hd?: string | undefined } = {},
) {
  return google.mintIdToken({ sub: person.sub, email: person.email, name: person.name, ...claims })
}

describe('sign-in', () => {
  describe('happy', () => {
    it('creates an unknown person as pending, once, without a last login', async () => {
      const person = aPerson()
      const first = await signIn()(await credentialOf(person), { rememberMe: false })
      const [row] = await rowsOf(person)
      expect(first).toEqual({ ok: false, reason: 'pending', userId: row?.id })
      expect(row).toMatchObject({ googleSub: person.sub, email: person.email, name: person.name })
      expect(row).toMatchObject({ role: 'no_access', lastLoginAt: null })
      const again = await signIn()(await credentialOf(person), { rememberMe: false })
      expect(again).toMatchObject({ ok: false, reason: 'pending' })
      expect(await rowsOf(person)).toEqual([row])
    })

    it('creates an ADMIN_EMAILS person as admin, matching the address case-insensitively', async () => {
      const person = aPerson()
      const result = await signIn([person.email])(
        await credentialOf({
          ...person,
          email: person.email.toUpperCase().replace('@EXAMPLE.COM', '@example.com'),
        }),
        { rememberMe: false },
      )
      expect(result).toMatchObject({ ok: true, user: { role: 'admin', lastLoginAt: NOW } })
    })

    it('promotes an existing member or pending user in ADMIN_EMAILS, and never demotes', async () => {
      for (const role of ['member', 'no_access'] as const) {
        const person = aPerson()
        await getDatabase()
          .db.insert(users)
          .values({ googleSub: person.sub, email: person.email, role })
        const promoted = await signIn([person.email])(await credentialOf(person), {
          rememberMe: false,
        })
        expect(promoted, role).toMatchObject({ ok: true, user: { role: 'admin' } })
        const later = await signIn([])(await credentialOf(person), { rememberMe: false })
        expect(later, role).toMatchObject({ ok: true, user: { role: 'admin' } })
      }
    })

    it('links a pre-provisioned row by e-mail (any case) once, then finds it by sub', async () => {
      const person = aPerson('Real Name')
      const [row] = await getDatabase()
        .db.insert(users)
        .values({ email: person.email.toUpperCase(), name: 'Placeholder', role: 'member' })
        .returning()
      const result = await signIn()(await credentialOf(person), { rememberMe: false })
      expect(result).toMatchObject({
        ok: true,
        user: { id: row?.id, googleSub: person.sub, name: 'Real Name', lastLoginAt: NOW },
      })
      const renamed = { ...person, email: `renamed-${person.email}` }
      const again = await signIn()(
        await google.mintIdToken({ sub: person.sub, email: renamed.email, name: person.name }),
        { rememberMe: false },
      )
      expect(again).toMatchObject({ ok: true, user: { id: row?.id } })
    })

    it('settles concurrent first sign-ins of one person on a single row', async () => {
      const person = aPerson()
      const identity = { ...person, domain: 'example.com', hostedDomain: 'example.com' }
      // A verifier that holds every call until all have arrived, so their row lookups race.
      const racers = 8
      let arrived = 0
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const google: GoogleVerifier = {
        async verify() {
          arrived += 1
          if (arrived === racers) {
            release()
          }
          await gate
          return { ok: true, identity }
        },
      }
      // Open a connection per racer first, so no lookup waits for a connect and loses the race.
      const { pool } = getDatabase()
      await Promise.all(Array.from({ length: racers }, () => pool.query('select pg_sleep(0.05)')))
      const run = signIn([person.email], google)
      const results = await Promise.all(
        Array.from({ length: racers }, () => run('credential', { rememberMe: false })),
      )
      expect(results.map((result) => result.ok)).toEqual(Array(racers).fill(true))
      expect(await rowsOf(person)).toHaveLength(1)
    })
  })

  describe('security', () => {
    it('writes nothing for a refused token', async () => {
      const person = aPerson()
      const token = await google.mintIdToken({ sub: person.sub, email: person.email, aud: 'other' })
      expect(await signIn()(token, { rememberMe: false })).toMatchObject({
        ok: false,
        reason: 'invalid-token',
      })
      expect(await rowsOf(person)).toEqual([])
    })

    it('leaves a disabled account untouched, linked or pre-provisioned', async () => {
      const linked = aPerson()
      const pre = aPerson()
      await getDatabase()
        .db.insert(users)
        .values([
          { googleSub: linked.sub, email: linked.email, role: 'admin', isActive: false },
          { email: pre.email, role: 'member', isActive: false },
        ])
      const before = [...(await rowsOf(linked)), ...(await rowsOf(pre))]
      for (const person of [linked, pre]) {
        const result = await signIn([person.email])(await credentialOf(person), {
          rememberMe: false,
        })
        expect(result).toMatchObject({ ok: false, reason: 'disabled' })
      }
      expect([...(await rowsOf(linked)), ...(await rowsOf(pre))]).toEqual(before)
    })

    it('does not hand an address linked to one Google account to another', async () => {
      const owner = aPerson()
      await getDatabase()
        .db.insert(users)
        .values({ googleSub: owner.sub, email: owner.email, role: 'admin' })
      const before = await rowsOf(owner)
      const impostor = { ...owner, sub: `${owner.sub}9` }
      const result = await signIn([owner.email])(await credentialOf(impostor), {
        rememberMe: false,
      })
      expect(result).toMatchObject({ ok: false, reason: 'email-taken', userId: before[0]?.id })
      expect(await rowsOf(impostor)).toEqual(before)
    })

    describe('personal Google accounts on a Workspace domain', () => {
      it('cannot link a waiting row: refused, the row stays for its Workspace owner', async () => {
        const owner = aPerson('Real Owner')
        const [waiting] = await getDatabase()
          .db.insert(users)
          .values({ email: owner.email, name: 'Waiting', role: 'member' })
          .returning()
        const personal = { ...owner, sub: `${owner.sub}7`, name: 'Ex Employee' }
        const refused = await signIn()(await credentialOf(personal, { hd: undefined }), {
          rememberMe: false,
        })
        expect(refused).toEqual({ ok: false, reason: 'personal-account' })
        expect(await rowsOf(owner)).toEqual([waiting])
        const linked = await signIn()(await credentialOf(owner, { hd: 'example.com' }), {
          rememberMe: false,
        })
        expect(linked).toMatchObject({ ok: true, user: { id: waiting?.id, googleSub: owner.sub } })
      })

      it('cannot take an ADMIN_EMAILS slot, nor queue up as pending under the address', async () => {
        const boss = aPerson()
        const personal = await credentialOf(boss, { hd: undefined })
        expect(await signIn([boss.email])(personal, { rememberMe: false })).toEqual({
          ok: false,
          reason: 'personal-account',
        })
        expect(await signIn()(personal, { rememberMe: false })).toEqual({
          ok: false,
          reason: 'personal-account',
        })
        expect(await rowsOf(boss)).toEqual([])
        const real = await signIn([boss.email])(await credentialOf(boss, { hd: 'example.com' }), {
          rememberMe: false,
        })
        expect(real).toMatchObject({ ok: true, user: { role: 'admin', googleSub: boss.sub } })
      })

      it('is refused even with a verifier that let it through, before any read', async () => {
        const person = aPerson()
        const identity = { ...person, domain: 'example.com', hostedDomain: undefined }
        const google: GoogleVerifier = { verify: async () => ({ ok: true, identity }) }
        const result = await signIn([person.email], google)('credential', { rememberMe: false })
        expect(result).toEqual({ ok: false, reason: 'personal-account' })
        expect(await rowsOf(person)).toEqual([])
      })

      it('links and bootstraps as before on a domain that is not on Workspace', async () => {
        const person = aPerson()
        await getDatabase().db.insert(users).values({ email: person.email, role: 'member' })
        const result = await signIn(
          [person.email],
          undefined,
          [],
        )(await credentialOf(person, { hd: undefined }), { rememberMe: false })
        expect(result).toMatchObject({ ok: true, user: { role: 'admin', googleSub: person.sub } })
      })
    })
  })
})
