import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import type { Config } from '#core/config.ts'
import { connectionConfig } from '#db/connection.ts'
import * as schema from '#db/schema.ts'

/** The typed query builder every db module receives. */
export type Database = NodePgDatabase<typeof schema>

/** The part of pg's Pool we rely on (closing it, raw round trips). */
export type PoolLike = Pick<pg.Pool, 'query' | 'end'>

/**
 * No query waits longer for its answer: a web function has 15 s, and a stuck lock must not eat
 * them all. Client-side on purpose: a `statement_timeout` startup parameter is refused by
 * PgBouncer, so the server-side limit belongs on the role (README, "Deploying and operating").
 */
export const QUERY_TIMEOUT_MS = 10_000

/**
 * A pool of `poolMax` connections (1 per warm container by default: DO's managed PostgreSQL sits
 * behind PgBouncer, and each container serves one activation at a time).
 */
export function createDatabase(
  options: Config['database'],
  onIdleError: (err: Error) => void = () => {},
  queryTimeoutMs = QUERY_TIMEOUT_MS,
): { db: Database; pool: PoolLike } {
  const pool = new pg.Pool({
    ...connectionConfig(options),
    max: options.poolMax,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    query_timeout: queryTimeoutMs,
  })
  // An idle client's error (e.g. the server restarted) must not crash the container.
  pool.on('error', onIdleError)
  return { db: drizzle(pool, { schema }), pool }
}
