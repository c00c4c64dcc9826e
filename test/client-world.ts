import * as v from 'valibot'
import { createApiClient } from '#client/api.ts'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { createJobRegistry } from '#core/jobs/registry.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import { createMemoryRateLimiter } from '#core/rate-limit/memory.ts'
import type { RateLimiter, RateLimitRule } from '#core/rate-limit/rules.ts'
import type { Services } from '#core/services.ts'
import { createBackfillHandler } from '#pipelines/backfill/routes.ts'
import { BackfillJiraInput } from '#pipelines/jira/inputs.ts'
import type { FakeGoogle } from '#sandbox/fakes/google.ts'
import { createLoginHandler } from '../functions/v1/login/handler.ts'
import { fixedClock } from './clock.ts'
import type { TestDatabase } from './database.ts'
import { FUNCTIONS_BASE, functionsFetch } from './functions-fetch.ts'
import { testServices } from './services.ts'
import { createSyntheticKind, memorySink } from './synthetic-kind.ts'

// The functions a client talks to, in one process: v1/login, and the backfill routes (mounted as
// v1/backfill-jira and v1/backfill-tempo) over a synthetic job kind that takes the Jira start's
// input and plans a chunk of 2 pages × 5 items per project. One fixed clock for server and client.

/** The admin key the world accepts. */
export const CLIENT_ADMIN_KEY = 'apm_client-test-admin-key-0123456789abcdef'
export const WORLD_NOW = new Date('2026-06-01T12:00:00.000Z')

export type WorldOptions = {
  database: TestDatabase
  google?: FakeGoogle
  /** Wraps the limiter every function shares, e.g. to refuse some requests. */
  limiter?: (real: RateLimiter) => RateLimiter
  /** Runs at each read of a long poll on the server, after the clock moved. */
  onServerTick?: (tick: number, services: Services) => Promise<void>
}

/** The functions, a fetch into them, and clients over it; client sleeps move the clock. */
export function clientWorld(options: WorldOptions) {
  const clock = fixedClock(WORLD_NOW)
  const real = createMemoryRateLimiter(clock)
  const services = testServices({
    database: options.database,
    clock,
    rateLimiter: options.limiter?.(real) ?? real,
    env: {
      ...(options.google && {
        GOOGLE_JWKS_URL: options.google.jwksUrl,
        GOOGLE_CLIENT_ID: options.google.clientId,
      }),
      ADMIN_EMAILS: 'admin@example.com',
      ADMIN_API_KEY_SHA256: adminKeyDigest(CLIENT_ADMIN_KEY),
    },
  })
  let ticks = 0
  const backfill = (source: string) =>
    createBackfillHandler(
      {
        ...services,
        registry: createJobRegistry([createSyntheticKind({ sink: memorySink() })]),
        sleep: async (ms) => {
          clock.advance(ms)
          await options.onServerTick?.(++ticks, services)
        },
      },
      {
        kind: 'synthetic',
        label: `${source} backfill`,
        input: v.pipe(
          BackfillJiraInput,
          v.transform((input) => ({
            scopes: (input.projects ?? ['OPS']).map((key) => ({ key, pages: 2, perPage: 5 })),
          })),
        ),
        dedupeKey: () => `synthetic-${source}`,
        rateRule: { name: 'synthetic-start', limit: 100, windowSeconds: 3600 },
      },
    )
  const entry = (handler: ReturnType<typeof backfill>) =>
    webEntry({ services: () => services, handler: () => handler })
  const fetch = functionsFetch(
    {
      login: webEntry({ services: () => services, handler: createLoginHandler }),
      'backfill-jira': entry(backfill('jira')),
      'backfill-tempo': entry(backfill('tempo')),
    },
    { now: () => clock.now().getTime() },
  )
  const sleeps: number[] = []
  const client = (extra: Partial<Parameters<typeof createApiClient>[0]> = {}) =>
    createApiClient({
      baseUrl: FUNCTIONS_BASE,
      fetch,
      now: () => clock.now().getTime(),
      sleep: async (ms) => {
        sleeps.push(ms)
        clock.advance(ms)
      },
      ...extra,
    })
  return { clock, services, fetch, sleeps, client }
}

/** A limiter that refuses `rule` for the calls `refuse` picks (counted from 1), asking for `seconds`. */
export function refusing(
  real: RateLimiter,
  rule: string,
  refuse: (call: number) => boolean,
  seconds = 7,
): RateLimiter {
  let calls = 0
  return {
    check: () => real.check(),
    async consume(limit: RateLimitRule, key: string) {
      if (limit.name === rule && refuse(++calls)) {
        const resetAt = WORLD_NOW.getTime() + 3_600_000
        return {
          kind: 'denied',
          limit: limit.limit,
          remaining: 0,
          resetAt,
          retryAfterSeconds: seconds,
        }
      }
      return real.consume(limit, key)
    },
  }
}
