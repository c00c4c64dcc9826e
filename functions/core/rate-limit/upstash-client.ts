import { Redis } from '@upstash/redis'

/** Where the Upstash REST API is (`UPSTASH_REDIS_REST_URL` / `_TOKEN`). */
export type UpstashSettings = { url: string; token: string }

/**
 * The REST client shared by the rate limiter and the pacer, one per warm container. Retries stay
 * low: the client retries network errors only, by default 5 times over about 4 s, longer than any
 * request should wait for its limit; one quick retry covers a dropped keep-alive connection.
 * @example const redis = createUpstashRedis(config.rateLimit.upstash)
 */
export function createUpstashRedis(
  settings: UpstashSettings,
  options: { retries?: number } = {},
): Redis {
  return new Redis({
    url: settings.url,
    token: settings.token,
    retry: { retries: options.retries ?? 1, backoff: () => 50 },
    enableTelemetry: false,
  })
}
