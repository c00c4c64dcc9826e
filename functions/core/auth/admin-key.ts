import { createHash, timingSafeEqual } from 'node:crypto'

/** The outcome of checking an `X-Admin-Key`. `disabled`: no digests are configured at all. */
export type AdminKeyDecision =
  | { kind: 'valid'; keyId: string }
  | { kind: 'invalid' }
  | { kind: 'disabled' }

/** Checks admin keys against their configured SHA-256 digests. */
export type AdminKeyCheck = (key: string) => AdminKeyDecision

// An admin key is a random string of a few dozen characters; anything far longer is not one.
const MAX_KEY_LENGTH = 512

/** The lower-case hex SHA-256 of a key, as `ADMIN_API_KEY_SHA256` lists it. */
export function adminKeyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/**
 * A check of `X-Admin-Key` values against `digests` (lower-case hex SHA-256; several during a
 * rotation). The presented key is hashed and compared with every digest in constant time, so
 * neither the match nor its position shows in the timing. With no digests, every key is refused.
 * @example const check = createAdminKeyCheck(config.auth.adminKeyDigests); check(req.headers['x-admin-key'] ?? '')
 */
export function createAdminKeyCheck(digests: readonly string[]): AdminKeyCheck {
  const known = digests.map((hex) => ({ bytes: Buffer.from(hex, 'hex'), keyId: hex.slice(0, 12) }))

  return (key) => {
    if (known.length === 0) {
      return { kind: 'disabled' }
    }
    const presented = createHash('sha256')
      .update(key.length > MAX_KEY_LENGTH ? '' : key, 'utf8')
      .digest()
    let match: string | undefined
    for (const digest of known) {
      // No early exit: every digest is compared whatever the outcome.
      const equal =
        digest.bytes.length === presented.length && timingSafeEqual(digest.bytes, presented)
      if (equal && match === undefined) {
        match = digest.keyId
      }
    }
    return key === '' || key.length > MAX_KEY_LENGTH || match === undefined
      ? { kind: 'invalid' }
      : { kind: 'valid', keyId: match }
  }
}
