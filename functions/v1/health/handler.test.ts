import { describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import type { PoolLike } from '#core/db/client.ts'
import type { HealthCheck } from '#core/health/checks.ts'
import { rateLimitCheck } from '#core/health/checks.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createServices } from '#core/services.ts'
import { fixedClock } from '#test/clock.ts'
import { testConfig } from '#test/config.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { aUser, bearer, tokenFor } from '#test/harness.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createHealthHandler, isLivenessProbe } from './handler.ts'

const getDatabase = useTestDatabase()

function healthMain(
  options: Parameters<typeof createHealthHandler>[0] extends infer D ? Partial<D> : never = {},
) {
  return webEntry({
    services: () => testServices({ database: getDatabase() }),
    handler: (services) => createHealthHandler({ ...services, ...options }),
    exemptFromClientLimits: isLivenessProbe,
  })
}

const SECRET = 'health-test-secret-key-at-least-32-bytes'
const ADMIN_KEY = 'apm_health-test-admin-key-0123456789abcdef'
const MONITOR_TOKEN = 'health-test-monitor-token-0123456789abcdef'

/**
 * The health function as its entry wires it (the real guard answers isAdmin and isMonitor), over a
 * pool that counts its queries and a check that counts its runs: what a deep check costs.
 */
function wiredHealth() {
  const { db, pool } = getDatabase()
  let queries = 0
  const counting: PoolLike = {
    query: ((...args: Parameters<PoolLike['query']>) => {
      queries += 1
      return pool.query(...args)
    }) as PoolLike['query'],
    end: () => pool.end(),
  }
  let upstreamCalls = 0
  const upstream: HealthCheck = {
    name: 'upstream',
    run: async () => {
      upstreamCalls += 1
      return { ok: true, details: { dimension: 1024 } }
    },
  }
  const clock = fixedClock()
  const config = testConfig({
    DATABASE_URL: getDatabase().url,
    JWT_SECRET_KEY: SECRET,
    ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY),
    MONITOR_TOKEN_SHA256: adminKeyDigest(MONITOR_TOKEN),
  })
  const services = createServices(config, { db, pool: counting, clock, log: captureLog().log })
  const main = webEntry({
    services: () => services,
    handler: (built) =>
      createHealthHandler({
        ...built,
        isAdmin: built.auth.isAdmin,
        isMonitor: built.auth.isMonitor,
        checks: [upstream],
      }),
    exemptFromClientLimits: isLivenessProbe,
  })
  return {
    clock,
    call: (headers: Record<string, string> = {}) =>
      main(aWebEvent({ query: { deep: '1' }, headers, ip: '198.51.100.90' }), aContext()),
    costs: () => ({ queries, upstreamCalls }),
  }
}

describe('v1/health', () => {
  describe('happy', () => {
    it('answers liveness with version and time without touching the database', async () => {
      const pool = {
        query: async () => Promise.reject(new Error('must not be called')),
        end: async () => {},
      }
      const main = webEntry({
        services: () => ({ ...testServices({ database: getDatabase() }), pool }),
        handler: (services) => createHealthHandler(services),
      })
      const res = await main(aWebEvent(), aContext())
      expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
      expect(res.body).toEqual({ status: 'ok', version: 'dev', time: '2026-06-01T12:00:00.000Z' })
      expect(res.headers['X-Request-Id']).toBeTruthy()
    })

    it('checks the database and the bundled migrations with ?deep=1', async () => {
      const res = await healthMain({ isMonitor: () => true })(
        aWebEvent({ query: { deep: '1' } }),
        aContext(),
      )
      expect(res.statusCode, JSON.stringify(res.body)).toBe(200)
      const body = res.body as {
        status: string
        checks: Record<string, { status: string; latencyMs: number }>
      }
      expect(body.status).toBe('ok')
      expect(body.checks.database?.status).toBe('pass')
      expect(body.checks.migrations?.status).toBe('pass')
      expect(body.checks.migrations).not.toHaveProperty('details')
    })

    it('shows check details to admins only', async () => {
      const res = await healthMain({ isAdmin: async () => true })(
        aWebEvent({ query: { deep: '1' } }),
        aContext(),
      )
      const body = res.body as { checks: Record<string, { details?: Record<string, unknown> }> }
      expect(body.checks.migrations?.details).toMatchObject({ missing: [] })
    })
  })

  describe('errors', () => {
    it('answers 503 when a migration is missing from the database', async () => {
      const { pool } = getDatabase()
      await pool.query(
        'create table if not exists drizzle.saved as select * from drizzle.__drizzle_migrations',
      )
      await pool.query('delete from drizzle.__drizzle_migrations')
      try {
        const res = await healthMain({ isAdmin: async () => true })(
          aWebEvent({ query: { deep: '1' } }),
          aContext(),
        )
        expect(res.statusCode).toBe(503)
        const body = res.body as {
          status: string
          checks: Record<string, { status: string; details?: unknown }>
        }
        expect(body.status).toBe('degraded')
        expect(body.checks.migrations?.status).toBe('fail')
        expect(body.checks.database?.status).toBe('pass')
      } finally {
        await pool.query('insert into drizzle.__drizzle_migrations select * from drizzle.saved')
        await pool.query('drop table drizzle.saved')
      }
    })

    it('answers 503 when a registered check throws or hangs', async () => {
      const checks = [
        { name: 'store', run: async () => Promise.reject(new Error('down')) },
        { name: 'index', run: async () => ({ ok: false }) },
      ]
      const res = await healthMain({ checks, isMonitor: () => true })(
        aWebEvent({ query: { deep: '1' } }),
        aContext(),
      )
      expect(res.statusCode).toBe(503)
      const body = res.body as { checks: Record<string, { status: string }> }
      expect(body.checks.store?.status).toBe('fail')
      expect(body.checks.index?.status).toBe('fail')
    })

    it('answers 405 with Allow for another method and 404 for another path', async () => {
      const main = healthMain()
      const post = await main(aWebEvent({ method: 'POST' }), aContext())
      expect(post.statusCode).toBe(405)
      expect(post.headers.Allow).toContain('GET')
      const other = await main(aWebEvent({ path: '/nope' }), aContext())
      expect(other.statusCode).toBe(404)
      expect((other.body as { error: { code: string; requestId: string } }).error.code).toBe(
        'NOT_FOUND',
      )
    })

    it('answers a logged 500 naming the variable when the configuration is invalid', async () => {
      const { log, text } = captureLog()
      const main = webEntry({
        services: () => ({
          ...testServices({ database: getDatabase(), log }),
          config: testConfig({ JWT_SECRET_KEY: 'short' }),
        }),
        handler: (services) => createHealthHandler(services),
        fallbackLog: log,
      })
      const res = await main(aWebEvent(), aContext())
      expect(res.statusCode).toBe(500)
      expect(res.body).toEqual({
        error: {
          code: 'INTERNAL',
          message: 'The server could not complete this request.',
          requestId: expect.any(String),
        },
      })
      expect(text()).toContain('JWT_SECRET_KEY')
      expect(text()).not.toContain('short')
    })
  })

  describe('security', () => {
    it('is never rate limited for liveness, but deep checks count against the client', async () => {
      const clock = fixedClock()
      const main = webEntry({
        services: () => testServices({ database: getDatabase(), clock }),
        handler: (services) => createHealthHandler(services),
        exemptFromClientLimits: isLivenessProbe,
      })
      for (let i = 0; i < 205; i++) {
        const res = await main(aWebEvent({ ip: '198.51.100.1' }), aContext())
        expect(res.statusCode).toBe(200)
      }
      let last = 0
      for (let i = 0; i < 201; i++) {
        last = (await main(aWebEvent({ ip: '198.51.100.2', query: { deep: '1' } }), aContext()))
          .statusCode
      }
      expect(last).toBe(429)
    })

    it('answers anyone but an admin or a monitor asking for deep checks with liveness, at no cost', async () => {
      const { call, costs, clock } = wiredHealth()
      const member = await aUser(getDatabase().db, { role: 'member' })
      const callers = {
        anonymous: {},
        'a made-up monitor token': { 'x-monitor-token': 'not-the-monitor-token-0123456789' },
        'a made-up admin key': { 'x-admin-key': 'apm_not-the-admin-key-0123456789' },
        'a made-up bearer token': { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln' },
      }
      for (const [who, headers] of Object.entries(callers)) {
        const res = await call(headers)
        expect(res.statusCode, who).toBe(200)
        expect(res.body, who).toEqual({
          status: 'ok',
          version: 'dev',
          time: clock.now().toISOString(),
        })
      }
      expect(costs()).toEqual({ queries: 0, upstreamCalls: 0 })
      // A member's token is read from the database (is it an admin's?), and no check runs.
      const asMember = await call(bearer(await tokenFor(member, { secret: SECRET, clock })))
      expect(asMember.body).not.toHaveProperty('checks')
      expect(costs().upstreamCalls).toBe(0)
    })

    it('runs the checks for a monitor token, without details, and for admins, with them', async () => {
      const { call, costs } = wiredHealth()
      const asMonitor = await call({ 'x-monitor-token': MONITOR_TOKEN })
      expect(asMonitor.statusCode, JSON.stringify(asMonitor.body)).toBe(200)
      expect(asMonitor.body).toMatchObject({
        checks: { database: { status: 'pass' }, upstream: { status: 'pass' } },
      })
      expect(
        (asMonitor.body as { checks: { upstream: object } }).checks.upstream,
      ).not.toHaveProperty('details')
      expect(costs().upstreamCalls).toBe(1)
      const asAdmin = await call({ 'x-admin-key': ADMIN_KEY })
      expect(asAdmin.body).toMatchObject({
        checks: { upstream: { status: 'pass', details: { dimension: 1024 } } },
      })
      expect(costs().upstreamCalls).toBe(2)
    })

    it('exempts only a plain GET from the per-client limits, not a POST or a body', async () => {
      const clock = fixedClock()
      const main = webEntry({
        services: () => testServices({ database: getDatabase(), clock }),
        handler: (services) => createHealthHandler(services),
        exemptFromClientLimits: isLivenessProbe,
      })
      const ip = '198.51.100.3'
      const big = JSON.stringify({ pad: 'x'.repeat(1_048_000) })
      const answers: string[] = []
      for (let n = 0; n < 201; n++) {
        const event =
          n % 2 === 0
            ? aWebEvent({ method: 'POST', ip, rawBody: big })
            : aWebEvent({ method: 'GET', ip, rawBody: big })
        const res = await main(event, aContext())
        answers.push(`${res.statusCode} ${res.headers['RateLimit-Remaining'] ?? '-'}`)
      }
      expect(answers.slice(0, 3)).toEqual(['405 199', '200 198', '405 197'])
      expect(answers[200]).toBe('429 0')
      // The plain GET is still never counted.
      const plain = await main(aWebEvent({ ip }), aContext())
      expect(plain.statusCode).toBe(200)
      expect(plain.headers).not.toHaveProperty('RateLimit-Remaining')
    })

    it('sends security headers and no CORS headers to a foreign origin', async () => {
      const res = await healthMain()(
        aWebEvent({ headers: { origin: 'https://evil.test' } }),
        aContext(),
      )
      expect(res.headers['X-Content-Type-Options']).toBe('nosniff')
      expect(res.headers['Access-Control-Allow-Origin']).toBeUndefined()
    })
  })
})

describe('v1/health rate-limit store check', () => {
  it('fails the deep check when the rate-limit store does not answer', async () => {
    const down = { check: async () => ({ ok: false, store: 'upstash' as const }) }
    const res = await healthMain({ checks: [rateLimitCheck(down)], isAdmin: async () => true })(
      aWebEvent({ query: { deep: '1' } }),
      aContext(),
    )
    expect(res.statusCode).toBe(503)
    const body = res.body as { checks: Record<string, { status: string; details?: unknown }> }
    expect(body.checks.rateLimit).toMatchObject({ status: 'fail', details: { store: 'upstash' } })
  })
})
