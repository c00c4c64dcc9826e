import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import * as schema from '#db/schema.ts'
import type { Config } from '../config.ts'

/** The typed query builder every db module receives. */
export type Database = NodePgDatabase<typeof schema>

/** The part of pg's Pool we rely on (closing it, raw round trips). */
export type PoolLike = Pick<pg.Pool, 'query' | 'end'>

/**
 * A pool of `poolMax` connections (1 per warm container by default: DO's managed PostgreSQL sits
 * behind PgBouncer, and each container serves one activation at a time).
 */
export function createDatabase(options: Config['database']): { db: Database; pool: PoolLike } {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    ...(options.caCert && { ssl: { ca: options.caCert, rejectUnauthorized: true } }),
  })
  // An idle client's error (e.g. the server restarted) must not crash the container.
  pool.on('error', () => {})
  return { db: drizzle(pool, { schema }), pool }
}
