import { randomBytes } from 'node:crypto'
import { createAppTokens } from '#core/auth/tokens.ts'
import type { Clock } from '#core/clock.ts'
import type { Database } from '#core/db/client.ts'
import type { User } from '#core/db/users.ts'
import type { HttpRequest } from '#core/http/types.ts'
import type { DoContext } from '#core/platform/do-event.ts'
import type { DoWebResult } from '#core/platform/web-entry.ts'
import { users } from '#db/schema.ts'
import { fixedClock } from './clock.ts'
import { aContext, aWebEvent, type EventOptions } from './events.ts'

// What handler tests share: users and their tokens, requests, calling a function, reading errors.

/** The error envelope every refused request carries. */
export type ErrorBody = {
  error: { code: string; message: string; requestId: string; details?: Record<string, unknown> }
}

/** The `error` of a refused response's body. */
export function errorOf(res: { body?: unknown }): ErrorBody['error'] {
  return (res.body as ErrorBody).error
}

/** An `HttpRequest` as the adapter makes it: a GET of the function's root unless stated. */
export function aRequest(overrides: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method: 'GET',
    path: '',
    headers: {},
    query: {},
    body: undefined,
    requestId: `req-${randomBytes(6).toString('hex')}`,
    clientIp: '203.0.113.9',
    functionPath: '/api/v1/web/local/test/fn',
    remainingMs: () => 60_000,
    ...overrides,
  }
}

/** A user row with a unique e-mail and Google `sub`, active, with the given role. */
export async function aUser(
  db: Database,
  values: Partial<typeof users.$inferInsert> = {},
): Promise<User> {
  const tag = randomBytes(5).toString('hex')
  const [user] = await db
    .insert(users)
    .values({ email: `u-${tag}@example.com`, googleSub: `sub-${tag}`, ...values })
    .returning()
  if (!user) {
    throw new Error('aUser: no row was inserted')
  }
  return user
}

/** An app token for `user`, signed with `secret` at the clock's time (24-hour tokens). */
export async function tokenFor(
  user: User,
  options: { secret: string; clock?: Clock; rememberMe?: boolean },
): Promise<string> {
  const clock = options.clock ?? fixedClock()
  const tokens = createAppTokens({ secret: options.secret, ttlHours: 24, clock })
  const { token } = await tokens.issue(user, { rememberMe: options.rememberMe ?? false })
  return token
}

/** The `Authorization` header for a bearer token. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

/** A web function's `main`. */
export type WebMain = (event: unknown, context?: DoContext) => Promise<DoWebResult>

/** Calls a web `main` with DigitalOcean's raw event, as `functionName` (`/ns/pkg/fn`). */
export type WebCall = (event?: EventOptions) => Promise<DoWebResult>

/**
 * A caller of a web `main`. With `newAddressPerCall`, each call comes from another client address,
 * so the per-client limits never interfere with what a test counts.
 * @example const call = webCaller(main, { functionName: '/local/v1/backfill-jira' })
 */
export function webCaller(
  main: WebMain,
  options: {
    functionName?: string
    newAddressPerCall?: boolean
    /** The activation's context (default: a minute left by the wall clock). */
    context?: () => DoContext
  } = {},
): WebCall {
  let calls = 0
  return (event = {}) => {
    calls += 1
    const context = {
      ...(options.context?.() ?? aContext()),
      functionName: options.functionName ?? '/local/test/fn',
    }
    const ip = options.newAddressPerCall ? { ip: `198.51.100.${calls % 250}` } : {}
    return main(aWebEvent({ ...ip, ...event }), context)
  }
}
