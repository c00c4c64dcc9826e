import { AppError, toErrorResponse } from '#core/errors.ts'
import { corsHeaders, SECURITY_HEADERS } from '#core/http/cors.ts'
import type { HttpHandler, HttpRequest } from '#core/http/types.ts'
import { createLogger, type Logger } from '#core/log.ts'
import { enforceLimits, LIMITS } from '#core/rate-limit/rules.ts'
import type { Services } from '#core/services.ts'
import { type DoContext, envelopeOf, toHttpRequest } from './do-event.ts'

/** DigitalOcean's web result: `body` stays an object, which the platform serialises as JSON. */
export type DoWebResult = { statusCode: number; headers: Record<string, string>; body?: unknown }

export type WebEntryOptions<S extends Pick<Services, 'config' | 'log' | 'clock' | 'rateLimiter'>> =
  {
    /** Builds the services once per warm container (the entry passes `process.env` here). */
    services: () => S
    /** Builds the handler from the services. */
    handler: (services: S) => HttpHandler
    /** Requests that skip the per-client limits (the liveness check, so monitors never see 429). */
    exemptFromClientLimits?: (req: HttpRequest) => boolean
    /** Where errors go before the services exist (tests capture it). */
    fallbackLog?: Logger
  }

const JSON_HEADERS = { 'Content-Type': 'application/json' }

/**
 * Wraps a handler as DigitalOcean's web `main`: event → request id → CORS → per-client limits →
 * handler → response, with every error answered as JSON carrying the request id.
 * @example export const main = webEntry({ services: () => createServices(loadConfig(process.env)), handler: createHealthHandler })
 */
export function webEntry<S extends Pick<Services, 'config' | 'log' | 'clock' | 'rateLimiter'>>(
  options: WebEntryOptions<S>,
) {
  // Module scope on purpose: a warm container reuses the services (pool, key sets, clients).
  let built: { services: S; handler: HttpHandler } | undefined
  let fallbackLog = options.fallbackLog

  return async function main(event: unknown, context: DoContext = {}): Promise<DoWebResult> {
    const envelope = envelopeOf(event, context)
    const { requestId } = envelope
    let headers: Record<string, string> = { ...SECURITY_HEADERS, 'X-Request-Id': requestId }
    try {
      // A ConfigError here becomes a logged 500 naming the variables, not a crash at import.
      built ??= (() => {
        const services = options.services()
        return { services, handler: options.handler(services) }
      })()
      const { services, handler } = built
      const isPreflight = envelope.method === 'OPTIONS'
      headers = {
        ...headers,
        ...corsHeaders(services.config, envelope.headers.origin, isPreflight),
      }
      if (isPreflight) {
        return { statusCode: 204, headers }
      }
      const req = toHttpRequest(event, context, envelope)
      if (!options.exemptFromClientLimits?.(req)) {
        const limitHeaders = await enforceLimits(
          { ...services, now: () => services.clock.now().getTime() },
          [LIMITS.clientHourly, LIMITS.clientDaily],
          `ip:${req.clientIp}`,
          { failClosed: false },
        )
        headers = { ...headers, ...limitHeaders }
      }
      const res = await handler(req)
      const result: DoWebResult = {
        statusCode: res.status,
        headers: { ...headers, ...(res.body !== undefined && JSON_HEADERS), ...res.headers },
      }
      if (res.body !== undefined) {
        result.body = res.body
      }
      return result
    } catch (err) {
      const res = toErrorResponse(err, requestId)
      fallbackLog ??= createLogger()
      const log = built?.services.log ?? fallbackLog
      if (res.status >= 500) {
        log.error({ err, requestId }, 'request failed')
      } else if (err instanceof AppError) {
        log.info({ requestId, code: err.code, status: res.status }, 'request refused')
      }
      // Never rethrow: DO would turn the throw into its own { error } result.
      return {
        statusCode: res.status,
        headers: { ...headers, ...JSON_HEADERS, ...res.headers },
        body: res.body,
      }
    }
  }
}
