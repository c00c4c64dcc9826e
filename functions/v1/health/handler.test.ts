import { describe, expect, it } from 'vitest'
import { rateLimitCheck } from '#core/health/checks.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { fixedClock } from '#test/clock.ts'
import { testConfig } from '#test/config.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext, aWebEvent } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createHealthHandler, isDeep } from './handler.ts'

const getDatabase = useTestDatabase()

function healthMain(
  options: Parameters<typeof createHealthHandler>[0] extends infer D ? Partial<D> : never = {},
) {
  return webEntry({
    services: () => testServices({ database: getDatabase() }),
    handler: (services) => createHealthHandler({ ...services, ...options }),
    exemptFromClientLimits: (req) => !isDeep(req),
  })
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
      const res = await healthMain()(aWebEvent({ query: { deep: '1' } }), aContext())
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
      const res = await healthMain({ checks })(aWebEvent({ query: { deep: '1' } }), aContext())
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
        exemptFromClientLimits: (req) => !isDeep(req),
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
