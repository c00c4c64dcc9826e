import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import type { HttpRequest } from '#core/http/types.ts'
import { users } from '#db/schema.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeGoogle } from '#test/fakes.ts'
import { aRequest, bearer } from '#test/harness.ts'
import { testServices } from '#test/services.ts'

const getDatabase = useTestDatabase()
const NOW = new Date('2026-06-01T12:00:00.000Z')

const google = useFakeGoogle({ now: NOW })

function services(clock = fixedClock(NOW)) {
  return testServices({
    database: getDatabase(),
    clock,
    env: { GOOGLE_JWKS_URL: google.jwksUrl, GOOGLE_CLIENT_ID: google.clientId },
  })
}

const withToken = (token: string): HttpRequest =>
  aRequest({ method: 'POST', path: '/refresh', headers: bearer(token) })

function certsFetches() {
  return google.requests.filter((req) => req.path === '/oauth2/v3/certs').length
}

describe('auth service', () => {
  describe('happy', () => {
    it('is part of the services and fetches no keys until the first sign-in', () => {
      const before = certsFetches()
      const { auth } = services()
      expect(typeof auth.requireAdmin).toBe('function')
      expect(certsFetches()).toBe(before)
    })

    it("keeps Google's key set for the life of the services (one warm container)", async () => {
      const before = certsFetches()
      const warm = services()
      for (let i = 0; i < 3; i++) {
        const credential = await google.mintIdToken({ sub: `30${i}`, email: `k${i}@example.com` })
        await warm.auth.signIn(credential, { rememberMe: false })
      }
      expect(certsFetches() - before).toBe(1)
      const cold = services()
      await cold.auth.signIn(await google.mintIdToken({ sub: '399' }), { rememberMe: false })
      expect(certsFetches() - before).toBe(2)
    })
  })

  describe('security', () => {
    it('renews a session for 30 days after its sign-in, however often it is refreshed', async () => {
      const clock = fixedClock(NOW)
      const { auth } = services(clock)
      const person = { sub: '32001', email: 'long-session@example.com' }
      await getDatabase()
        .db.insert(users)
        .values({ googleSub: person.sub, email: person.email, role: 'member' })
      const signedIn = await auth.signIn(await google.mintIdToken(person), { rememberMe: true })
      expect(signedIn.ok, JSON.stringify(signedIn)).toBe(true)
      let token = signedIn.ok ? signedIn.token.token : ''
      const day = 24 * 3600_000
      const end = new Date(NOW.getTime() + 30 * day)
      // Each refresh within the previous token's 7 days; the session's start is carried over.
      for (const at of [6 * day, 12 * day, 18 * day, 24 * day, 30 * day - 1000]) {
        clock.set(new Date(NOW.getTime() + at))
        const renewed = await auth.refresh(withToken(token), {})
        token = renewed.token.token
        expect(decodeJwt(token).sat).toBe(NOW.getTime() / 1000)
        expect(renewed.token.expiresAt.getTime()).toBe(
          Math.min(at + 7 * day, 30 * day) + NOW.getTime(),
        )
      }
      expect(decodeJwt(token).exp).toBe(end.getTime() / 1000)
      // 30 days and a second: the last token still verifies (5 s clock tolerance), but the session is over.
      clock.set(new Date(end.getTime() + 1000))
      expect((await auth.authenticate(withToken(token))).user.googleSub).toBe('32001')
      await expect(auth.refresh(withToken(token), {})).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        status: 401,
        message: 'This session is too old to renew; sign in again.',
        headers: { 'WWW-Authenticate': 'Bearer' },
      })
    })

    it('signs an ADMIN_EMAILS person in, who then passes requireAdmin by bearer token', async () => {
      const { auth } = services()
      // test/config.ts lists boss@example.com in ADMIN_EMAILS.
      const credential = await google.mintIdToken({ sub: '31337', email: 'Boss@example.com' })
      const result = await auth.signIn(credential, { rememberMe: false })
      expect(result.ok, JSON.stringify(result)).toBe(true)
      const token = result.ok ? result.token.token : ''
      const req = aRequest({ method: 'POST', headers: bearer(token) })
      expect(await auth.requireAdmin(req)).toMatchObject({ kind: 'user', user: { role: 'admin' } })
      expect(await auth.isAdmin(req)).toBe(true)
    })
  })
})
