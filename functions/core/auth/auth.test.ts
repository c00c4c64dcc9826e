import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { type FakeGoogle, startFakeGoogle } from '#test/fakes/google.ts'
import { testServices } from '#test/services.ts'

const getDatabase = useTestDatabase()
const NOW = new Date('2026-06-01T12:00:00.000Z')

let google: FakeGoogle
beforeAll(async () => {
  google = await startFakeGoogle()
  google.setNow(NOW)
})
afterAll(async () => {
  await google?.close() // undefined when setup failed; keep the real error in front
})

function services() {
  return testServices({
    database: getDatabase(),
    clock: fixedClock(NOW),
    env: { GOOGLE_JWKS_URL: google.jwksUrl, GOOGLE_CLIENT_ID: google.clientId },
  })
}

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
    it('signs an ADMIN_EMAILS person in, who then passes requireAdmin by bearer token', async () => {
      const { auth } = services()
      // test/config.ts lists boss@example.com in ADMIN_EMAILS.
      const credential = await google.mintIdToken({ sub: '31337', email: 'Boss@example.com' })
      const result = await auth.signIn(credential, { rememberMe: false })
      expect(result.ok, JSON.stringify(result)).toBe(true)
      const token = result.ok ? result.token.token : ''
      const req = {
        method: 'POST',
        path: '',
        headers: { authorization: `Bearer ${token}` },
        query: {},
        body: undefined,
        requestId: 'req-auth-test-0001',
        clientIp: '203.0.113.1',
      }
      expect(await auth.requireAdmin(req)).toMatchObject({ kind: 'user', user: { role: 'admin' } })
      expect(await auth.isAdmin(req)).toBe(true)
    })
  })
})
