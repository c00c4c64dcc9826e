import type { Auth } from '#core/auth/service.ts'
import { AppError, toErrorResponse } from '#core/errors.ts'
import { corsHeaders, SECURITY_HEADERS } from '#core/http/cors.ts'
import type { HttpHandler } from '#core/http/types.ts'
import { createLogger, type Logger } from '#core/log.ts'
import { enforceLimits, LIMITS } from '#core/rate-limit/rules.ts'
import type { Services } from '#core/services.ts'
import { type DoContext, type Envelope, envelopeOf, toHttpRequest } from './do-event.ts'

/** DigitalOcean's web result: `body` stays an object, which the platform serialises as JSON. */
export type DoWebResult = { statusCode: number; headers: Record<string, string>; body?: unknown }

/**
 * What the entry itself uses. Without `auth` every request counts against its client address
 * (tests of the limits alone); entries pass the whole services, whose `auth` tells principals.
 */
export type EntryServices = Pick<Services, 'config' | 'log' | 'clock' | 'rateLimiter'> & {
  auth?: Pick<Auth, 'identify'>
}

export type WebEntryOptions<S extends EntryServices> = {
  /**
   * Builds the services once per warm container (the entry passes `process.env` here); entries
   * import what they run here, at the first request, rather than when the bundle loads.
   */
  services: () => S | Promise<S>
  /** Builds the handler from the services. */
  handler: (services: S) => HttpHandler | Promise<HttpHandler>
  /**
   * Requests that skip the per-client limits, judged before the body is read: the health
   * function's plain liveness `GET`, so monitors never see 429.
   */
  exemptFromClientLimits?: (envelope: Envelope) => boolean
  /** Where errors go before the services exist (tests capture it). */
  fallbackLog?: Logger
}

const JSON_HEADERS = { 'Content-Type': 'application/json' }

/**
 * Counts a request before its body is read (docs/ARCHITECTURE.md, "The request path"): against
 * its principal when it carries a credential that verifies cheaply, else against its client
 * address, so a made-up token or key buys nothing. A failing store lets it through (logged).
 * @throws {AppError} RATE_LIMITED
 */
async function countRequest(services: EntryServices, envelope: Envelope) {
  // Imported at the first request: node:net is not needed to load the bundle.
  const { clientKeyOf, principalKeyOf } = await import('#core/rate-limit/keys.ts')
  const principal = await services.auth?.identify(envelope.headers)
  const [rules, key] =
    principal === undefined
      ? [[LIMITS.clientHourly, LIMITS.clientDaily], clientKeyOf(envelope.clientIp)]
      : [[LIMITS.principalHourly, LIMITS.principalDaily], principalKeyOf(principal)]
  const now = () => services.clock.now().getTime()
  return enforceLimits({ ...services, now }, rules, key, { failClosed: false })
}

/**
 * Wraps a handler as DigitalOcean's web `main`: envelope → request id → CORS → per-client or
 * per-principal limits → body → handler → response, with every error answered as JSON carrying
 * the request id.
 * @example export const main = webEntry({ services: () => createServices(loadConfig(process.env)), handler: createHealthHandler })
 */
export function webEntry<S extends EntryServices>(options: WebEntryOptions<S>) {
  // Module scope on purpose: a warm container reuses the services (pool, key sets, clients).
  let building: Promise<{ services: S; handler: HttpHandler }> | undefined
  let built: { services: S; handler: HttpHandler } | undefined
  let fallbackLog = options.fallbackLog

  // Once per warm container; a failure (a ConfigError) is tried again at the next request.
  async function build() {
    building ??= (async () => {
      const services = await options.services()
      return { services, handler: await options.handler(services) }
    })()
    try {
      built = await building
      return built
    } catch (err) {
      building = undefined
      throw err
    }
  }

  return async function main(event: unknown, context: DoContext = {}): Promise<DoWebResult> {
    const envelope = envelopeOf(event, context)
    const { requestId, clientRequestId } = envelope
    let headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'X-Request-Id': requestId,
      ...(clientRequestId !== undefined && { 'X-Client-Request-Id': clientRequestId }),
    }
    try {
      // A ConfigError here becomes a logged 500 naming the variables, not a crash at import.
      const { services, handler } = built ?? (await build())
      const isPreflight = envelope.method === 'OPTIONS'
      headers = {
        ...headers,
        ...corsHeaders(services.config, envelope.headers.origin, isPreflight),
      }
      if (isPreflight) {
        return { statusCode: 204, headers }
      }
      // Before the body: a malformed or oversized one costs its sender a request like any other.
      if (!options.exemptFromClientLimits?.(envelope)) {
        headers = { ...headers, ...(await countRequest(services, envelope)) }
      }
      const req = toHttpRequest(event, context, envelope)
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
        log.error({ err, requestId, clientRequestId }, 'request failed')
      } else if (err instanceof AppError) {
        const refused = { requestId, clientRequestId, code: err.code, status: res.status }
        log.info(refused, 'request refused')
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
