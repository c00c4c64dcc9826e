import type { Config } from '#core/config.ts'

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Admin-Key, X-Request-Id'
const EXPOSED_HEADERS =
  'Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-Id, X-Client-Request-Id, Location'
const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/

/** Whether a browser on `origin` may call us: exactly WEB_BASE_URL in production; in development
 * also any localhost origin. */
export function isAllowedOrigin(
  config: Pick<Config, 'isProduction' | 'web'>,
  origin: string,
): boolean {
  if (config.web.baseUrl && origin === config.web.baseUrl) {
    return true
  }
  return !config.isProduction && LOCALHOST.test(origin)
}

/** The CORS headers for a response (empty when the origin is absent or not allowed). */
export function corsHeaders(
  config: Pick<Config, 'isProduction' | 'web'>,
  origin: string | undefined,
  preflight: boolean,
): Record<string, string> {
  if (!origin || !isAllowedOrigin(config, origin)) {
    return { Vary: 'Origin' }
  }
  const headers: Record<string, string> = {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Expose-Headers': EXPOSED_HEADERS,
    Vary: 'Origin',
  }
  if (preflight) {
    headers['Access-Control-Allow-Methods'] = 'GET, POST, DELETE, OPTIONS'
    headers['Access-Control-Allow-Headers'] = ALLOWED_HEADERS
    headers['Access-Control-Max-Age'] = '600'
  }
  return headers
}

/** Headers every response carries: an API answers JSON only and is never framed or cached. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Cache-Control': 'no-store',
}
