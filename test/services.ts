import type { Clock } from '#core/clock.ts'
import type { Config } from '#core/config.ts'
import type { PlatformRuntime } from '#core/functions-api.ts'
import type { Logger } from '#core/log.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { createServices, type Services } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { fixedClock } from './clock.ts'
import { testConfig } from './config.ts'
import type { TestDatabase } from './database.ts'
import { captureLog } from './log.ts'

/** Services over this file's real database, with a captured log and a fixed clock by default. */
export function testServices(options: {
  database: TestDatabase
  config?: Config
  env?: Record<string, string | undefined>
  log?: Logger
  clock?: Clock
  rateLimiter?: RateLimiter
  /** The runtime's API host and namespace, for kicks (with FUNCTIONS_ACCESS_KEY in `env`). */
  runtime?: () => PlatformRuntime
}): Services {
  const clock = options.clock ?? fixedClock()
  const config =
    options.config ?? testConfig({ DATABASE_URL: options.database.url, ...options.env })
  return createServices(
    config,
    {
      db: options.database.db,
      pool: options.database.pool,
      log: options.log ?? captureLog().log,
      clock,
      rateLimiter: options.rateLimiter ?? createMemoryRateLimiter(clock),
    },
    { upstreams: createUpstreams, ...(options.runtime && { runtime: options.runtime }) },
  )
}
