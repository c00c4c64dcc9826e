import { randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import fc from 'fast-check'
import { base64url, decodeJwt, generateKeyPair, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { keyIdOf, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#core/auth/tokens.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { users } from '#db/schema.ts'
import { errorOf } from '#test/harness.ts'
import {
  anAppToken,
  NOW,
  NOW_S,
  type Res,
  SECRET,
  type SignedInBody,
  useLoginFunction,
} from '#test/login.ts'

const {
  getDatabase,
  google,
  loginFunction,
  aPerson,
  aMember,
  credentialOf,
  tokenFor,
  expectRefusedWithoutWrites,
} = useLoginFunction()

describe('v1/login', () => {
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

      it('refuses a look-alike of an ADMIN_EMAILS address (Kelvin sign) and writes nothing', async () => {
        const login = loginFunction({ env: { ADMIN_EMAILS: 'leak@example.com' } })
        // lea\u212a lower-cases to "leak".
        const token = await credentialOf(aPerson({ email: 'lea\u212a@example.com' }))
        const res = await expectRefusedWithoutWrites(login, token, 403, 'FORBIDDEN')
        expect(errorOf(res).message).toBe('Only plain (ASCII) e-mail addresses may sign in.')
      })

      it('refuses a personal account on a Workspace domain, leaving the waiting row to its owner', async () => {
        const login = loginFunction()
        const owner = aPerson()
        const [waiting] = await getDatabase()
          .db.insert(users)
          .values({ email: owner.email, role: 'member' })
          .returning()
        const personal = { ...owner, sub: `${owner.sub}1` }
        const res = await expectRefusedWithoutWrites(
          login,
          await credentialOf(personal, { hd: undefined }),
          403,
          'FORBIDDEN',
        )
        expect(errorOf(res).message).toBe(
          "Sign in with your organisation's Google Workspace account, not a personal one.",
        )
        const real = await login.signIn({ credential: await credentialOf(owner) })
        expect(real.statusCode, JSON.stringify(real.body)).toBe(200)
        expect((real.body as SignedInBody).user.id).toBe(waiting?.id)
      })

      it('refuses a personal account an ADMIN_EMAILS slot on a Workspace domain', async () => {
        const login = loginFunction({ env: { ADMIN_EMAILS: 'chief@example.com' } })
        const person = aPerson({ email: 'chief@example.com' })
        await expectRefusedWithoutWrites(
          login,
          await credentialOf(person, { hd: undefined }),
          403,
          'FORBIDDEN',
        )
      })

      it('refuses a token for several audiences whose azp is another client', async () => {
        const token = await credentialOf(aPerson(), {
          aud: ['other.apps.googleusercontent.com', google.clientId],
          azp: 'other.apps.googleusercontent.com',
        })
        await expectRefusedWithoutWrites(loginFunction(), token, 401, 'UNAUTHENTICATED')
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

      it('never lengthens a session on refresh: a 24-hour one asking for rememberMe stays 24 hours', async () => {
        const login = loginFunction()
        const person = await aMember()
        const token = await tokenFor(login, person, false)
        login.clock.advance(3600_000)
        const res = await login.refresh(token, { rememberMe: true })
        expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
        expect((res.body as SignedInBody).expiresAt).toBe('2026-06-02T13:00:00.000Z')
        expect(decodeJwt((res.body as SignedInBody).token)).toMatchObject({ rme: false })
      })

      it('keeps or shortens a session over any run of refreshes, never lengthens it (property)', async () => {
        const login = loginFunction()
        const person = await aMember()
        await fc.assert(
          fc.asyncProperty(
            fc.boolean(),
            fc.array(fc.option(fc.boolean(), { nil: undefined }), { minLength: 1, maxLength: 4 }),
            async (remember, choices) => {
              login.clock.set(NOW)
              google.setNow(NOW)
              let token = await tokenFor(login, person, remember)
              let long = remember
              for (const rememberMe of choices) {
                login.clock.advance(60_000)
                const res = await login.refresh(
                  token,
                  rememberMe === undefined ? undefined : { rememberMe },
                )
                expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
                const body = res.body as SignedInBody
                long = long && rememberMe !== false
                const hours = (Date.parse(body.expiresAt) - login.clock.now().getTime()) / 3600_000
                expect(hours).toBe(long ? 168 : 24)
                token = body.token
              }
            },
          ),
          { numRuns: 25 },
        )
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

      it('counts sign-ins from one IPv6 /64 together: 15 addresses, the last five 429', async () => {
        const login = loginFunction()
        const statuses: number[] = []
        for (let i = 0; i < 15; i++) {
          const ip = `2001:db8:4:64:${(i * 4099).toString(16)}::${i + 1}`
          statuses.push((await login.signIn({ credential: `attempt-${i}` }, { ip })).statusCode)
        }
        expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)])
        // The next /64 is another client.
        const next = await login.signIn({ credential: 'x' }, { ip: '2001:db8:4:65::1' })
        expect(next.statusCode).toBe(401)
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
