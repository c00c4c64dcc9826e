import { eq } from 'drizzle-orm'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { parseInput } from '#core/validation/parse.ts'
import { users } from '#db/schema.ts'
import { errorOf } from '#test/harness.ts'
import { useLoginFunction } from '#test/login.ts'
import { RefreshBody, SignInBody } from './handler.ts'

const {
  getDatabase,
  google,
  loginFunction,
  aMember,
  credentialOf,
  tokenFor,
  allUsers,
  expectRefusedWithoutWrites,
} = useLoginFunction()

describe('v1/login', () => {
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
})
