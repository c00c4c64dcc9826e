import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { adminKeyDigest, createAdminKeyCheck } from './admin-key.ts'

const KEY = 'apm_first-key-0123456789abcdefghijklmnopqrstuv'
const NEXT = 'apm_second-key-0123456789abcdefghijklmnopqrstu'

describe('admin keys', () => {
  describe('happy', () => {
    it('digests a key as lower-case hex SHA-256', () => {
      expect(adminKeyDigest('abc')).toBe(createHash('sha256').update('abc').digest('hex'))
    })

    it('accepts any configured key during a rotation and names it by its digest prefix', () => {
      const check = createAdminKeyCheck([adminKeyDigest(KEY), adminKeyDigest(NEXT)])
      expect(check(KEY)).toEqual({ kind: 'valid', keyId: adminKeyDigest(KEY).slice(0, 12) })
      expect(check(NEXT)).toEqual({ kind: 'valid', keyId: adminKeyDigest(NEXT).slice(0, 12) })
    })
  })

  describe('security', () => {
    it('refuses every key when no digests are configured', () => {
      const check = createAdminKeyCheck([])
      expect(check(KEY)).toEqual({ kind: 'disabled' })
      expect(check('')).toEqual({ kind: 'disabled' })
    })

    it('refuses a wrong key, a near miss, the digest itself and an empty key', () => {
      const check = createAdminKeyCheck([adminKeyDigest(KEY)])
      for (const key of ['nope', `${KEY} `, KEY.toUpperCase(), adminKeyDigest(KEY), '']) {
        expect(check(key), key).toEqual({ kind: 'invalid' })
      }
    })

    it('refuses an oversized key even when its digest is configured', () => {
      const huge = 'k'.repeat(10_000)
      expect(createAdminKeyCheck([adminKeyDigest(huge)])(huge)).toEqual({ kind: 'invalid' })
    })

    it('refuses the empty key even when its digest is configured', () => {
      expect(createAdminKeyCheck([adminKeyDigest('')])('')).toEqual({ kind: 'invalid' })
    })

    it('refuses thousands of random wrong keys (property)', () => {
      const check = createAdminKeyCheck([adminKeyDigest(KEY), adminKeyDigest(NEXT)])
      const key = fc.oneof(
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
        fc.stringMatching(/^apm_[A-Za-z0-9_-]{43}$/),
      )
      fc.assert(
        fc.property(key, (candidate) => {
          fc.pre(candidate !== KEY && candidate !== NEXT)
          expect(check(candidate)).toEqual({ kind: 'invalid' })
        }),
        { numRuns: 3000 },
      )
    })

    it('refuses every key that differs from a valid one in one byte', () => {
      const check = createAdminKeyCheck([adminKeyDigest(KEY)])
      let tried = 0
      for (let at = 0; at < KEY.length; at++) {
        for (let code = 0x20; code <= 0x7e; code++) {
          if (code === KEY.charCodeAt(at)) {
            continue
          }
          const near = `${KEY.slice(0, at)}${String.fromCharCode(code)}${KEY.slice(at + 1)}`
          expect(check(near), near).toEqual({ kind: 'invalid' })
          tried += 1
        }
      }
      // 46 characters, 94 other printable ones each.
      expect(tried).toBe(4324)
      // And outside printable ASCII, where a byte can become two (property).
      fc.assert(
        fc.property(
          fc.nat({ max: KEY.length - 1 }),
          fc.string({ minLength: 1, maxLength: 1 }),
          (at, ch) => {
            fc.pre(ch !== KEY[at])
            expect(check(`${KEY.slice(0, at)}${ch}${KEY.slice(at + 1)}`)).toEqual({
              kind: 'invalid',
            })
          },
        ),
        { numRuns: 1000 },
      )
    })

    it('refuses keys whose digest shares its first or its last two bytes with a valid one', () => {
      const digest = adminKeyDigest(KEY)
      const check = createAdminKeyCheck([digest])
      // Found by search (about 65,536 tries each): they catch a comparison of a digest's prefix
      // or suffix instead of all of it.
      for (const part of [(hex: string) => hex.slice(0, 4), (hex: string) => hex.slice(-4)]) {
        let n = 0
        let lookalike = ''
        while (!lookalike) {
          const candidate = `apm_probe-${n++}`
          if (part(adminKeyDigest(candidate)) === part(digest)) {
            lookalike = candidate
          }
        }
        expect(adminKeyDigest(lookalike)).not.toBe(digest)
        expect(check(lookalike), lookalike).toEqual({ kind: 'invalid' })
      }
    })
  })
})
