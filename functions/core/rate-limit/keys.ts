import { isIPv4, isIPv6 } from 'node:net'

/**
 * Rate-limit keys (docs/ARCHITECTURE.md, "Rate limits and pacing"): whose events a rule counts.
 * `ip:<address>` for a client address, `ip6:<prefix>::/64` for an IPv6 network, and
 * `principal:<id>` for a caller whose credential was verified.
 */

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (!isIPv6(address)) {
    return undefined
  }
  // A zone (`fe80::1%eth0`) names the interface, not the host.
  let text = address.split('%')[0] ?? ''
  // An embedded IPv4 tail (`::ffff:192.0.2.1`) becomes its two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  const missing = 8 - left.length - right.length
  return [...left, ...Array<number>(tail === undefined ? 0 : missing).fill(0), ...right]
}

/**
 * The key that counts a client address. One person on IPv6 usually holds a whole /64 (and can
 * pick any address in it), so IPv6 addresses count by their /64; an IPv4 address, also one mapped
 * into IPv6 (`::ffff:192.0.2.1`), counts alone. Anything else (the edge sent no address) is
 * counted under its text, so all such requests share one key.
 * @example clientKeyOf('2001:db8:1:2:aaaa::1') // 'ip6:2001:db8:1:2::/64'
 */
export function clientKeyOf(address: string): string {
  const trimmed = address.trim().replace(/^\[(.*)\]$/, '$1')
  if (isIPv4(trimmed)) {
    return `ip:${trimmed}`
  }
  const groups = ipv6Groups(trimmed)
  if (!groups) {
    return `ip:${trimmed.slice(0, 64)}`
  }
  const [a, b, c, d, e, f, g, h] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0 && f === 0xffff) {
    return `ip:${g >> 8}.${g & 0xff}.${h >> 8}.${h & 0xff}`
  }
  return `ip6:${[a, b, c, d].map((group) => group.toString(16)).join(':')}::/64`
}

/**
 * The key that counts a verified caller: a user id, `admin-key:<digest prefix>` or
 * `monitor:<digest prefix>` (docs/ARCHITECTURE.md, "Authentication").
 */
export function principalKeyOf(principalId: string): string {
  return `principal:${principalId}`
}
