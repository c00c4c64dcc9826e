import { type Clock, systemClock } from './clock.ts'
import type { Config } from './config.ts'
import { createDatabase, type Database, type PoolLike } from './db/client.ts'
import { createLogger, type Logger } from './log.ts'
import type { RateLimiter } from './rate-limit.ts'
import { createRateLimiter } from './rate-limit-store.ts'

/** Everything a handler or job may use; each handler declares the slice it needs. */
export type Services = {
  config: Config
  log: Logger
  clock: Clock
  db: Database
  pool: PoolLike
  rateLimiter: RateLimiter
}

/** Replacements for external seams (tests pass their own database, logger, clock, limiter). */
export type Seams = Partial<Services>

/**
 * The single composition root, called once per warm container by entries and by test/services.ts.
 * Nothing connects here: the pool opens its connection on the first query.
 */
export function createServices(config: Config, seams: Seams = {}): Services {
  const log = seams.log ?? createLogger({ level: config.logLevel })
  const clock = seams.clock ?? systemClock
  const database =
    seams.db && seams.pool ? { db: seams.db, pool: seams.pool } : createDatabase(config.database)
  const rateLimiter = seams.rateLimiter ?? createRateLimiter(config, { log, clock })
  return { config, log, clock, ...database, rateLimiter }
}
