import type { DoContext } from '#core/platform/do-event.ts'

/** What a test says about a web event; the rest is what DigitalOcean sends by default. */
export type EventOptions = {
  method?: string
  path?: string
  headers?: Record<string, string>
  query?: Record<string, string> | string
  body?: unknown
  rawBody?: string
  ip?: string
}

/** A DigitalOcean `web: 'raw'` event as the platform delivers it. */
export function aWebEvent(options: EventOptions = {}) {
  const hasBody = options.rawBody !== undefined || options.body !== undefined
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'test',
    'x-forwarded-for': options.ip ?? '203.0.113.7',
    'x-forwarded-proto': 'https',
    ...(hasBody && { 'content-type': 'application/json' }),
    ...options.headers,
  }
  const queryString =
    typeof options.query === 'string'
      ? options.query
      : new URLSearchParams(options.query ?? {}).toString()
  return {
    http: {
      method: options.method ?? 'GET',
      path: options.path ?? '',
      headers,
      queryString,
      body: options.rawBody ?? (options.body === undefined ? '' : JSON.stringify(options.body)),
      isBase64Encoded: false,
    },
  }
}

/** A DigitalOcean activation context with a budget of `remainingMs` from `now()`. */
export function aContext(remainingMs = 60_000, now: () => number = Date.now): DoContext {
  const deadline = now() + remainingMs
  return {
    activationId: `act${Math.random().toString(16).slice(2, 14)}`,
    functionName: '/local/test/fn',
    deadline,
    getRemainingTimeInMillis: () => deadline - now(),
  }
}
