import type { PoolLike } from '#core/db/client.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import journal from '#db/migrations/meta/_journal.json' with { type: 'json' }

/** What one dependency check found. `details` reach admins only. */
export type CheckResult = { ok: boolean; details?: Record<string, unknown> }

/** A named dependency check; the health function runs every registered one in parallel. */
export type HealthCheck = { name: string; run: () => Promise<CheckResult> }

export type CheckReport = {
  status: 'pass' | 'fail'
  latencyMs: number
  details?: Record<string, unknown>
}

const CHECK_TIMEOUT_MS = 3000

/** Runs a check with a time limit; a throw or a time-out is a failure, never an exception. */
export async function runCheck(check: HealthCheck, now: () => number): Promise<CheckReport> {
  const started = now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, details: { error: 'timed out' } }),
      CHECK_TIMEOUT_MS,
    )
  })
  try {
    const result = await Promise.race([check.run(), timeout])
    return {
      status: result.ok ? 'pass' : 'fail',
      latencyMs: now() - started,
      ...(result.details && { details: result.details }),
    }
  } catch (err) {
    const error = err instanceof Error ? err.name : 'error'
    return { status: 'fail', latencyMs: now() - started, details: { error } }
  } finally {
    clearTimeout(timer)
  }
}

/** A database round trip. */
export function databaseCheck(pool: PoolLike): HealthCheck {
  return {
    name: 'database',
    run: async () => {
      await pool.query('select 1')
      return { ok: true }
    },
  }
}

/** The migrations bundled into this function, by their creation stamp (drizzle's `created_at`). */
const BUNDLED_MIGRATIONS = journal.entries.map((entry) => ({
  tag: entry.tag,
  when: entry.when,
}))

/** Every migration this code was built with has been applied to the database. */
export function migrationsCheck(pool: PoolLike): HealthCheck {
  return {
    name: 'migrations',
    run: async () => {
      const result = await pool.query<{ created_at: string }>(
        'select created_at from drizzle.__drizzle_migrations order by created_at',
      )
      const applied = new Set(result.rows.map((row) => Number(row.created_at)))
      const missing = BUNDLED_MIGRATIONS.filter((migration) => !applied.has(migration.when))
      return {
        ok: missing.length === 0,
        details: {
          bundled: BUNDLED_MIGRATIONS.length,
          applied: applied.size,
          missing: missing.map((migration) => migration.tag),
        },
      }
    },
  }
}

/** The rate-limit store answers (in production, Upstash; the in-process limiter always does). */
export function rateLimitCheck(rateLimiter: Pick<RateLimiter, 'check'>): HealthCheck {
  return {
    name: 'rateLimit',
    run: async () => {
      const { ok, store } = await rateLimiter.check()
      return { ok, details: { store } }
    },
  }
}
