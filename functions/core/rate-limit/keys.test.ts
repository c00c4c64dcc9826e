import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clientKeyOf, principalKeyOf } from './keys.ts'

const group = fc.integer({ min: 0, max: 0xffff })
const groups = (n: number) => fc.array(group, { minLength: n, maxLength: n })
const hex = (values: number[]) => values.map((value) => value.toString(16)).join(':')

/** The same address in another spelling: upper case, leading zeros, `::` for a run of zeros. */
function spellings(all: number[]): string[] {
  const full = all.map((value) => value.toString(16).padStart(4, '0').toUpperCase()).join(':')
  const zeroAt = all.indexOf(0)
  const compressed =
    zeroAt === -1 ? hex(all) : `${hex(all.slice(0, zeroAt))}::${hex(all.slice(zeroAt + 1))}`
  return [hex(all), full, compressed, `[${hex(all)}]`, `${hex(all)}%eth0`]
}

describe('rate-limit keys', () => {
  describe('happy', () => {
    it('counts an IPv4 address alone, and one mapped into IPv6 the same', () => {
      expect(clientKeyOf('198.51.100.7')).toBe('ip:198.51.100.7')
      expect(clientKeyOf('::ffff:198.51.100.7')).toBe('ip:198.51.100.7')
      expect(clientKeyOf('::ffff:c633:6407')).toBe('ip:198.51.100.7')
    })

    it('counts an IPv6 address by its /64', () => {
      expect(clientKeyOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('ip6:2001:db8:1:2::/64')
      expect(clientKeyOf('2001:db8:1:2::1')).toBe('ip6:2001:db8:1:2::/64')
      expect(clientKeyOf('2001:db8::1')).toBe('ip6:2001:db8:0:0::/64')
      expect(clientKeyOf('::1')).toBe('ip6:0:0:0:0::/64')
    })

    it('keys a principal by its id', () => {
      expect(principalKeyOf('admin-key:0123456789ab')).toBe('principal:admin-key:0123456789ab')
    })
  })

  describe('security', () => {
    it('gives every address of one /64 one key, whatever its spelling (property)', () => {
      fc.assert(
        fc.property(groups(4), groups(4), groups(4), (prefix, a, b) => {
          const key = clientKeyOf(hex([...prefix, ...a]))
          for (const spelling of spellings([...prefix, ...b])) {
            expect(clientKeyOf(spelling), spelling).toBe(key)
          }
        }),
        { numRuns: 300 },
      )
    })

    it('gives addresses of different /64s different keys (property)', () => {
      fc.assert(
        fc.property(groups(4), groups(4), groups(4), (prefix, other, host) => {
          fc.pre(hex(prefix) !== hex(other))
          // Not ::/64, home of the IPv4-mapped range, which counts by the whole address.
          fc.pre(prefix.some((g) => g !== 0) && other.some((g) => g !== 0))
          expect(clientKeyOf(hex([...prefix, ...host]))).not.toBe(
            clientKeyOf(hex([...other, ...host])),
          )
        }),
        { numRuns: 300 },
      )
    })

    it('keeps IPv4 addresses apart (property)', () => {
      const v4 = fc.tuple(group, group).map(([hi, lo]) => {
        const bytes = [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]
        return bytes.join('.')
      })
      fc.assert(
        fc.property(v4, v4, (a, b) => {
          fc.pre(a !== b)
          expect(clientKeyOf(a)).not.toBe(clientKeyOf(b))
        }),
      )
    })

    it('keys whatever else the edge sent by its text, bounded', () => {
      expect(clientKeyOf('unknown')).toBe('ip:unknown')
      expect(clientKeyOf('x'.repeat(500))).toBe(`ip:${'x'.repeat(64)}`)
    })
  })
})
