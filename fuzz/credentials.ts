// The people, keys and tokens a fuzz run signs its requests with: app tokens of admins, members and
// people waiting for access; admin keys and monitor tokens; and the bad ones (expired, forged,
// wrong algorithm, made-up). Users are rows the world inserted; tokens are minted with its secret.
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { base64url, SignJWT } from 'jose'
import pg from 'pg'
import { createAppTokens, keyIdOf, TOKEN_AUDIENCE, TOKEN_ISSUER } from '#core/auth/tokens.ts'
import type { Role } from '#core/db/users.ts'
import type { CredentialKind, GoogleKind } from './plans.ts'

/** A user row the world made, as a token needs it. */
export type FuzzUser = {
  id: string
  email: string
  role: Role
  tokenVersion: number
  kind: PersonKind
}

type PersonKind = Role | 'disabled'

/** Mints a Google ID token for an address (the sandbox's sub: `sandbox-<email>`). */
export type GoogleMinter = (email: string) => Promise<string>

/** The credentials of a run, by kind. */
export type Credentials = {
  /** the headers that carry a credential of `kind` (`pick` chooses among several) */
  headers(kind: CredentialKind, pick: number): Record<string, string>
  /** a Google ID token of `kind` for a sign-in body */
  google(kind: GoogleKind, pick: number): string
  /** the admin key the fuzzer cancels its own jobs with (used by no generated request) */
  janitor: Record<string, string>
  /** a sign-out everywhere ended this bearer token's sessions: mint its user a new one */
  renew(authorization: string): Promise<void>
}

/** Keys and their SHA-256 digests, as `ADMIN_API_KEY_SHA256` and `MONITOR_TOKEN_SHA256` list them. */
export function makeKeys(count: number, prefix: string): { keys: string[]; digests: string } {
  const keys = Array.from(
    { length: count },
    () => `${prefix}${randomBytes(24).toString('base64url')}`,
  )
  const digests = keys.map((key) => createHash('sha256').update(key).digest('hex')).join(',')
  return { keys, digests }
}

/**
 * Inserts the run's people (each with the sandbox's Google `sub`) into `databaseUrl`: `admins`
 * admins (each has its own start budget, so more admins let more starts reach the queue), 12
 * members, 4 waiting for access and 2 disabled.
 */
export async function insertPeople(databaseUrl: string, admins = 24): Promise<FuzzUser[]> {
  const counts: ReadonlyArray<[PersonKind, number]> = [
    ['admin', admins],
    ['member', 12],
    ['no_access', 4],
    ['disabled', 2],
  ]
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const people: FuzzUser[] = []
    const tag = randomBytes(3).toString('hex')
    for (const [kind, count] of counts) {
      for (let n = 0; n < count; n++) {
        const email = `fuzz-${kind}-${n}-${tag}@example.com`.replace('_', '-')
        const role: Role = kind === 'disabled' ? 'member' : kind
        const inserted = await client.query<{ id: string }>(
          'insert into users (google_sub, email, name, role, is_active) values ($1, $2, $3, $4, $5) returning id',
          [`sandbox-${email}`, email, `Fuzz ${kind} ${n}`, role, kind !== 'disabled'],
        )
        const id = inserted.rows[0]?.id ?? ''
        people.push({ id, email, role, tokenVersion: 0, kind })
      }
    }
    return people
  } finally {
    await client.end()
  }
}

const at = <T>(list: readonly T[], pick: number): T => {
  const item = list[pick % list.length]
  if (item === undefined) {
    throw new Error('fuzz credentials: an empty pool')
  }
  return item
}

/**
 * Builds the credentials from the world's people, keys and secret. `google` mints valid ID
 * tokens; `badGoogle` are refused ones the world could make (unsigned, foreign, expired, …).
 */
export async function buildCredentials(options: {
  secret: string
  people: FuzzUser[]
  adminKeys: string[]
  janitorKey: string
  monitorTokens: string[]
  google: GoogleMinter
  badGoogle: string[]
}): Promise<Credentials> {
  const now = () => new Date()
  const tokens = createAppTokens({ secret: options.secret, ttlHours: 24, clock: { now } })
  const past = createAppTokens({
    secret: options.secret,
    ttlHours: 1,
    clock: { now: () => new Date(Date.now() - 48 * 3600_000) },
  })
  const foreign = createAppTokens({
    secret: `another-${options.secret}`,
    ttlHours: 24,
    clock: { now },
  })
  const byKind = (kind: PersonKind) => options.people.filter((person) => person.kind === kind)
  const admins = byKind('admin')
  const members = byKind('member')
  const pending = byKind('no_access')
  const disabled = byKind('disabled')
  const issue = async (user: FuzzUser) => (await tokens.issue(user, { rememberMe: false })).token
  const bearerOf = new Map<string, FuzzUser>() // authorization header → its user
  const pools = {
    admin: await Promise.all(admins.map(issue)),
    member: await Promise.all(members.map(issue)),
    pending: await Promise.all(pending.map(issue)),
  }
  for (const [list, users] of [
    [pools.admin, admins],
    [pools.member, members],
    [pools.pending, pending],
  ] as const) {
    list.forEach((token, n) => {
      const user = users[n]
      if (user) {
        bearerOf.set(`Bearer ${token}`, user)
      }
    })
  }
  const someAdmin = at(admins, 0)
  const expired = (await past.issue(someAdmin, { rememberMe: false })).token
  const signedElsewhere = (await foreign.issue(someAdmin, { rememberMe: false })).token
  const [head, payload, signature] = at(pools.member, 0).split('.')
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<
    string,
    unknown
  >
  const promoted = base64url.encode(JSON.stringify({ ...claims, role: 'admin', sub: someAdmin.id }))
  const seconds = Math.floor(Date.now() / 1000)
  const hs512 = await new SignJWT({ role: 'admin', ver: 0 })
    .setProtectedHeader({ alg: 'HS512', kid: keyIdOf(options.secret) })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(someAdmin.id)
    .setJti(randomUUID())
    .setIssuedAt(seconds)
    .setExpirationTime(seconds + 3600)
    .sign(new TextEncoder().encode(options.secret))
  const unsigned = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`
  const bad = {
    expired: [expired],
    forged: [`${head}.${promoted}.${signature}`, signedElsewhere],
    wrongAlg: [hs512, unsigned],
    garbage: [
      'x',
      'a.b.c',
      `${'A'.repeat(600)}.${'B'.repeat(600)}.C`,
      'null',
      '\u00e9\u00e9.\u00e9.\u00e9',
    ],
  }
  const wrongKeys = [
    'apm_wrong',
    randomBytes(32).toString('base64url'),
    `${at(options.adminKeys, 0)}x`,
  ]
  const googlePools = {
    member: await Promise.all(members.map((user) => options.google(user.email))),
    admin: await Promise.all(admins.slice(0, 4).map((user) => options.google(user.email))),
    pending: await Promise.all(pending.map((user) => options.google(user.email))),
    disabled: await Promise.all(disabled.map((user) => options.google(user.email))),
    'new-person': await Promise.all(
      Array.from({ length: 16 }, () =>
        options.google(`new-${randomBytes(4).toString('hex')}@example.com`),
      ),
    ),
    bad: options.badGoogle,
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  return {
    headers(kind, pick) {
      switch (kind) {
        case 'none':
          return {}
        case 'admin-token':
          return bearer(at(pools.admin, pick))
        case 'admin-key':
          return { 'x-admin-key': at(options.adminKeys, pick) }
        case 'member-token':
          return bearer(at(pools.member, pick))
        case 'pending-token':
          return bearer(at(pools.pending, pick))
        case 'monitor-token':
          return { 'x-monitor-token': at(options.monitorTokens, pick) }
        case 'expired-token':
          return bearer(at(bad.expired, pick))
        case 'forged-token':
          return bearer(at(bad.forged, pick))
        case 'wrong-alg-token':
          return bearer(at(bad.wrongAlg, pick))
        case 'wrong-key':
          return { 'x-admin-key': at(wrongKeys, pick) }
        case 'garbage-bearer':
          return bearer(at(bad.garbage, pick))
        case 'admin-key-beside-forged-token':
          return { 'x-admin-key': at(options.adminKeys, pick), ...bearer(at(bad.forged, pick)) }
      }
    },
    google: (kind, pick) => at(googlePools[kind], pick),
    janitor: { 'x-admin-key': options.janitorKey },
    async renew(authorization) {
      const user = bearerOf.get(authorization)
      if (!user) {
        return
      }
      user.tokenVersion += 1
      const fresh = await issue(user)
      bearerOf.set(`Bearer ${fresh}`, user)
      for (const list of [pools.admin, pools.member, pools.pending]) {
        const index = list.findIndex((token) => `Bearer ${token}` === authorization)
        if (index >= 0) {
          list[index] = fresh
        }
      }
    },
  }
}
