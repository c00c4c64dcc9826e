// The web functions in this process, as the platform runs them: their settings in process.env,
// each function's own `main`, a fresh database, the sandbox's fakes and the Upstash bridge.
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { startFakeGoogle } from '#sandbox/fakes/google.ts'
import { startFakeJira } from '#sandbox/fakes/jira.ts'
import { sampleOrganisation } from '#sandbox/fakes/jira-data.ts'
import { startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import { startFakeTempo } from '#sandbox/fakes/tempo.ts'
import { startUpstashBridge } from '#sandbox/upstash-bridge.ts'
import { upstreamEnv } from '#test/upstreams.ts'
import type { Main } from '../scripts/local-platform.ts'
import { readFunctions } from '../scripts/project.ts'
import { buildCredentials, type GoogleMinter, insertPeople, makeKeys } from './credentials.ts'
import { createFuzzDatabase } from './database.ts'
import { stateProbe } from './state.ts'
import { inProcessTarget } from './targets.ts'
import {
  addressPool,
  RATE_LIMIT_TIMEOUT_MS,
  SECRET_BYTES,
  WEB_BASE_URL,
  type World,
  type WorldOptions,
} from './world.ts'

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
    RATE_LIMIT_TIMEOUT_MS: RATE_LIMIT_TIMEOUT_MS,
    JWT_SECRET_KEY: secret,
    GOOGLE_CLIENT_ID: google.clientId,
    GOOGLE_JWKS_URL: google.jwksUrl,
    ALLOWED_EMAIL_DOMAINS: 'example.com',
    ADMIN_EMAILS: '',
    ADMIN_API_KEY_SHA256: admin.digests,
    MONITOR_TOKEN_SHA256: monitor.digests,
    WEB_BASE_URL,
    ...upstreamEnv({ jira, tempo, pinecone }),
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
