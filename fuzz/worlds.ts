// The worlds a fuzz run sends its requests into: the functions in this process, the local server
// it starts, or a server already running at a URL. Each brings its own database (a fresh one, or
// the server's), people, credentials, client addresses and state probe.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startFakeGoogle } from '#sandbox/fakes/google.ts'
import { startFakeJira } from '#sandbox/fakes/jira.ts'
import { sampleOrganisation } from '#sandbox/fakes/jira-data.ts'
import { startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import { startFakeTempo } from '#sandbox/fakes/tempo.ts'
import { startUpstashBridge } from '#sandbox/upstash-bridge.ts'
import { startLocalServer } from '#test/local-server.ts'
import type { Main } from '../scripts/local-platform.ts'
import { ROOT, readFunctions } from '../scripts/project.ts'
import {
  buildCredentials,
  type Credentials,
  type GoogleMinter,
  insertPeople,
  makeKeys,
} from './credentials.ts'
import { createFuzzDatabase } from './database.ts'
import { type StateProbe, stateProbe } from './state.ts'
import { httpTarget, inProcessTarget, type Target } from './targets.ts'

/** Everything a run needs from where it sends its requests. */
export type World = {
  target: Target
  credentials: Credentials
  /** client addresses, one per request in turn (many, so per-address limits rarely trip) */
  addresses: string[]
  /** undefined when the world's database is out of reach (a server at a URL without DATABASE_URL) */
  state: StateProbe | undefined
  /** what the report says about the world */
  notes: string[]
  close(): Promise<void>
}

export type WorldOptions = {
  /** a PostgreSQL server where the run may create its database (DATABASE_URL) */
  databaseUrl: string
  /** Redis behind the Upstash bridge (REDIS_URL); without it, limits are counted in process */
  redisUrl?: string | undefined
  /** addresses to spread requests over */
  addressCount: number
  /** admins to make (each has its own budget of backfill starts) */
  admins: number
  logLevel?: string
}

const SECRET_BYTES = 48
const WEB_BASE_URL = 'https://pm.example.com'

// IPv4 in a random /16 of 10/8, with every eighth an IPv6 /64 (counted by its /64).
function addressPool(count: number, loopback: boolean): string[] {
  const [a = 1, b = 1] = randomBytes(2)
  return Array.from({ length: count }, (_, n) => {
    const c = (n >> 8) & 0xff
    const d = n & 0xff || 1
    if (loopback) {
      return `127.${1 + (a % 250)}.${c}.${d}`
    }
    return n % 8 === 7 ? `2001:db8:${a.toString(16)}:${n.toString(16)}::1` : `10.${b}.${c}.${d}`
  })
}

// Google ID tokens the verifier must refuse, made with the fake's own keys.
async function badGoogleTokens(google: Awaited<ReturnType<typeof startFakeGoogle>>) {
  const email = 'someone@example.com'
  const base = { sub: `sandbox-${email}`, email }
  const past = Math.floor(Date.now() / 1000) - 7200
  return Promise.all([
    google.mintWithAlgNone(base),
    google.mintWithUnknownKid(base),
    google.mintHs256WithPublicKey(base),
    google.mintIdToken({ ...base, aud: 'another-client.apps.googleusercontent.com' }),
    google.mintIdToken({ ...base, iat: past, exp: past + 3600 }),
    google.mintIdToken({ ...base, email: 'x@evil.example', hd: 'evil.example' }),
    google.mintIdToken({ ...base, email_verified: false }),
    google.mintIdToken({ ...base, hd: undefined }),
    google.mintIdToken({ ...base, email: 'lead@example.co\u212a', hd: undefined }),
  ])
}

// Sets `values` into process.env, where the functions read their settings; returns the undo.
function setEnv(values: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]))
  Object.assign(process.env, values)
  return () => {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) {
        delete process.env[name]
      } else {
        process.env[name] = value
      }
    }
  }
}

// Each world loads the functions afresh: a `main` keeps its services for its container's life.
let loads = 0

/**
 * The web functions' `main`s, loaded anew (their services read `process.env` on first use): under
 * tsx's CommonJS hooks by dropping them from the require cache, under Vite (vitest) by a query.
 */
async function loadMains(): Promise<Record<string, Main>> {
  loads += 1
  const mains: Record<string, Main> = {}
  const cjs = typeof require === 'function' && require.extensions?.['.ts'] !== undefined
  for (const fn of readFunctions()) {
    if (fn.pkg !== 'v1' || fn.web === false) {
      continue
    }
    if (cjs) {
      delete require.cache[require.resolve(fn.source)]
      mains[fn.name] = (require(fn.source) as { main: Main }).main
    } else {
      const url = `${pathToFileURL(fn.source).href}?world=${loads}`
      mains[fn.name] = ((await import(url)) as { main: Main }).main
    }
  }
  return mains
}

/**
 * The web functions in this process, over a fresh database, the fakes of `sandbox/` and (with
 * `redisUrl`) the Upstash bridge: set into `process.env` as the platform would, then each
 * function's own `main`.
 */
export async function inProcessWorld(options: WorldOptions): Promise<World> {
  const database = await createFuzzDatabase(options.databaseUrl)
  const now = new Date()
  const org = sampleOrganisation({ seed: 16, projects: 3, issues: 30, users: 4, now })
  const [google, jira, pinecone] = await Promise.all([
    startFakeGoogle(),
    startFakeJira({ now }),
    startFakePinecone(),
  ])
  jira.setIssues(org.issues)
  jira.setUsers(org.users)
  const tempo = await startFakeTempo({ jiraBaseUrl: jira.url })
  const bridge = options.redisUrl
    ? await startUpstashBridge({
        redisUrl: options.redisUrl,
        token: randomBytes(16).toString('hex'),
      })
    : undefined
  const admin = makeKeys(4, 'apm_')
  const monitor = makeKeys(2, 'mon_')
  const secret = randomBytes(SECRET_BYTES).toString('base64')
  const restoreEnv = setEnv({
    APP_ENV: 'development',
    LOG_LEVEL: options.logLevel ?? 'silent',
    DATABASE_URL: database.url,
    // Four connections per function: as four warm containers would have between them.
    DB_POOL_MAX: '4',
    JWT_SECRET_KEY: secret,
    GOOGLE_CLIENT_ID: google.clientId,
    GOOGLE_JWKS_URL: google.jwksUrl,
    ALLOWED_EMAIL_DOMAINS: 'example.com',
    ADMIN_EMAILS: '',
    ADMIN_API_KEY_SHA256: admin.digests,
    MONITOR_TOKEN_SHA256: monitor.digests,
    WEB_BASE_URL,
    JIRA_BASE_URL: jira.url,
    JIRA_EMAIL: jira.email,
    JIRA_API_TOKEN: jira.apiToken,
    TEMPO_BASE_URL: tempo.url,
    TEMPO_API_TOKEN: 'fake-tempo-token',
    PINECONE_API_KEY: 'fake-pinecone-key',
    PINECONE_INDEX_HOST: pinecone.url,
    PINECONE_CONTROLLER_URL: pinecone.url,
    UPSTASH_REDIS_REST_URL: bridge?.url ?? '',
    UPSTASH_REDIS_REST_TOKEN: bridge?.token ?? '',
  })
  const people = await insertPeople(database.url, options.admins)
  const mint: GoogleMinter = (email) =>
    google.mintIdToken({ sub: `sandbox-${email}`, email, hd: 'example.com', name: email })
  const [janitorKey = '', ...adminKeys] = admin.keys
  const credentials = await buildCredentials({
    secret,
    people,
    adminKeys,
    janitorKey,
    monitorTokens: monitor.keys,
    google: mint,
    badGoogle: await badGoogleTokens(google),
  })
  const state = stateProbe({ databaseUrl: database.url, redisUrl: options.redisUrl })
  return {
    target: inProcessTarget(await loadMains()),
    credentials,
    addresses: addressPool(options.addressCount, false),
    state,
    notes: [
      `database ${database.name} (fresh, migrated)`,
      bridge
        ? 'limits on Redis through the Upstash bridge'
        : 'limits counted in process (no REDIS_URL)',
    ],
    async close() {
      await state.close()
      await Promise.all([
        google.close(),
        jira.close(),
        tempo.close(),
        pinecone.close(),
        bridge?.close(),
      ])
      await database.drop()
      restoreEnv()
    },
  }
}

// What the local server's sandbox mints: `POST /sandbox/google-token {email}`.
function sandboxMinter(origin: string): GoogleMinter {
  return async (email) => {
    const res = await fetch(`${origin}/sandbox/google-token`, {
      method: 'POST',
      body: JSON.stringify({ email, name: email }),
    })
    if (!res.ok) {
      throw new Error(`${origin}/sandbox/google-token answered ${res.status}`)
    }
    return ((await res.json()) as { credential: string }).credential
  }
}

// Refused ID tokens a client can make without Google's keys.
async function forgedGoogleTokens(mint: GoogleMinter): Promise<string[]> {
  const foreign = await mint('x@evil.example').catch(() => 'a.b.c')
  const valid = await mint('someone@example.com')
  const [, payload = ''] = valid.split('.')
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
  return [foreign, `${none}.${payload}.`, `${valid.slice(0, -6)}AAAAAA`, 'not-a-token']
}

/**
 * `npm start` (scripts/dev-server.ts) in a child process, on a fresh database, with this run's
 * secret and keys; requests leave from loopback addresses of their own.
 */
export async function localServerWorld(options: WorldOptions): Promise<World> {
  const database = await createFuzzDatabase(options.databaseUrl)
  const admin = makeKeys(4, 'apm_')
  const monitor = makeKeys(2, 'mon_')
  const secret = randomBytes(SECRET_BYTES).toString('base64')
  const server = await startLocalServer({
    APP_ENV: 'development',
    LOG_LEVEL: options.logLevel ?? 'silent',
    DATABASE_URL: database.url,
    JWT_SECRET_KEY: secret,
    ADMIN_API_KEY_SHA256: admin.digests,
    MONITOR_TOKEN_SHA256: monitor.digests,
    ADMIN_EMAILS: 'nobody@example.com',
    WEB_BASE_URL,
    ...(options.redisUrl && { REDIS_URL: options.redisUrl }),
  })
  try {
    const mint = sandboxMinter(server.origin)
    const [janitorKey = '', ...adminKeys] = admin.keys
    const credentials = await buildCredentials({
      secret,
      people: await insertPeople(database.url, options.admins),
      adminKeys,
      janitorKey,
      monitorTokens: monitor.keys,
      google: mint,
      badGoogle: await forgedGoogleTokens(mint),
    })
    const state = stateProbe({ databaseUrl: database.url, redisUrl: options.redisUrl })
    return {
      target: httpTarget(server.base, { loopback: true }),
      credentials,
      addresses: addressPool(options.addressCount, true),
      state,
      notes: [
        `local server ${server.base} on database ${database.name} (fresh, migrated)`,
        options.redisUrl
          ? 'limits on Redis through the Upstash bridge'
          : 'limits counted in process (no REDIS_URL)',
      ],
      async close() {
        await state.close()
        await server.stop()
        await database.drop()
      },
    }
  } catch (err) {
    await server.stop()
    await database.drop()
    throw err
  }
}

// A value the local server keeps in .data/ (its JWT secret, its development admin key).
function persisted(name: string): string | undefined {
  const file = join(ROOT, '.data', name)
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined
}

/**
 * A server already running at `url` (`npm start`, or a deployed site): its database
 * (`databaseUrl`), JWT secret and admin key come from the options, else from what `npm start`
 * keeps in `.data/`.
 */
export async function urlWorld(
  url: string,
  options: WorldOptions & { secret?: string | undefined; adminKey?: string | undefined },
): Promise<World> {
  const secret = options.secret ?? persisted('dev-jwt-secret')
  const adminKey = options.adminKey ?? persisted('dev-admin-key')
  if (!secret || !adminKey) {
    throw new Error(
      'fuzzing a server at a URL needs its JWT_SECRET_KEY and an admin key (ADMIN_KEY), or the .data/ of `npm start`',
    )
  }
  const origin = new URL(url).origin
  const mint = sandboxMinter(origin)
  const credentials = await buildCredentials({
    secret,
    people: await insertPeople(options.databaseUrl, options.admins),
    adminKeys: [adminKey],
    janitorKey: adminKey,
    monitorTokens: ['not-a-monitor-token'],
    google: mint,
    badGoogle: await forgedGoogleTokens(mint),
  })
  const loopback = ['127.0.0.1', 'localhost'].includes(new URL(url).hostname)
  const state = stateProbe({ databaseUrl: options.databaseUrl, redisUrl: options.redisUrl })
  return {
    target: httpTarget(url, { loopback }),
    credentials,
    addresses: addressPool(options.addressCount, loopback),
    state,
    notes: [`server at ${url}, its database at DATABASE_URL`],
    close: () => state.close(),
  }
}
