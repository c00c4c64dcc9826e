import { createHash } from 'node:crypto'
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
  })
})
