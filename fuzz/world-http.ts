// The functions over HTTP: the local server (`npm start`) the run starts, or a server already
// running at a URL.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startLocalServer } from '#test/local-server.ts'
import { ROOT } from '../scripts/project.ts'
import { buildCredentials, type GoogleMinter, insertPeople, makeKeys } from './credentials.ts'
import { createFuzzDatabase } from './database.ts'
import { stateProbe } from './state.ts'
import { httpTarget } from './targets.ts'
import {
  addressPool,
  RATE_LIMIT_TIMEOUT_MS,
  SECRET_BYTES,
  WEB_BASE_URL,
  type World,
  type WorldOptions,
} from './world.ts'

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
    RATE_LIMIT_TIMEOUT_MS: RATE_LIMIT_TIMEOUT_MS,
    ADMIN_EMAILS: 'nobody@example.com',
    WEB_BASE_URL,
    // Nothing but the requests writes: no crons, and no worker asked for by a start.
    LOCAL_CRONS: 'off',
    FUNCTIONS_ACCESS_KEY: '',
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
  options: WorldOptions & {
    secret?: string | undefined
    adminKey?: string | undefined
    google?: GoogleMinter | undefined
  },
): Promise<World> {
  const secret = options.secret ?? persisted('dev-jwt-secret')
  const adminKey = options.adminKey ?? persisted('dev-admin-key')
  if (!secret || !adminKey) {
    throw new Error(
      'fuzzing a server at a URL needs its JWT_SECRET_KEY and an admin key (ADMIN_KEY), or the .data/ of `npm start`',
    )
  }
  const origin = new URL(url).origin
  const mint = options.google ?? sandboxMinter(origin)
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
