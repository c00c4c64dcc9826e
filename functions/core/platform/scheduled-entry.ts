import { createLogger, type Logger } from '#core/log.ts'
import type { Services } from '#core/services.ts'
import type { DoContext } from './do-event.ts'

/** A scheduled function's behaviour: the trigger's body in, a small JSON summary out. */
export type ScheduledHandler = (
  event: Readonly<Record<string, unknown>>,
  context: DoContext,
) => Promise<Record<string, unknown>>

/** What a scheduled `main` returns (DigitalOcean records it as the activation's result). */
export type ScheduledResult =
  | ({ ok: true; function: string } & Record<string, unknown>)
  | { ok: false; function: string; error: string; activationId: string }

export type ScheduledEntryOptions<S extends Pick<Services, 'log'>> = {
  /** The function's name in logs and results (`jobs/worker`). */
  name: string
  /**
   * Builds the services once per warm container (the entry passes `process.env` here); entries
   * import what they run here, at the first run, rather than when the bundle loads.
   */
  services: () => S | Promise<S>
  /** Builds the handler from the services. */
  handler: (services: S) => ScheduledHandler | Promise<ScheduledHandler>
  /** Where errors go before the services exist (tests capture it). */
  fallbackLog?: Logger
}

function bodyOf(event: unknown): Record<string, unknown> {
  return event && typeof event === 'object' && !Array.isArray(event)
    ? (event as Record<string, unknown>)
    : {}
}

/**
 * Wraps a handler as DigitalOcean's `main` for a scheduled trigger (no `http` in the event):
 * services built once per warm container, one log line per run, a summary returned, and never a
 * throw (DigitalOcean would wrap it in its own error result).
 * @example export const main = scheduledEntry({ name: 'jobs/cleanup', services: () => createServices(loadConfig(process.env)), handler: createCleanupHandler })
 */
export function scheduledEntry<S extends Pick<Services, 'log'>>(options: ScheduledEntryOptions<S>) {
  // Module scope on purpose: a warm container reuses the services (its pool above all).
  let built: { services: S; handler: ScheduledHandler } | undefined
  let fallbackLog = options.fallbackLog

  return async function main(event: unknown, context: DoContext = {}): Promise<ScheduledResult> {
    const activationId = context.activationId ?? 'local'
    try {
      // A ConfigError here becomes a logged failure naming the variables, not a crash at import.
      if (!built) {
        const services = await options.services()
        built = { services, handler: await options.handler(services) }
      }
      const summary = await built.handler(bodyOf(event), context)
      built.services.log.info({ activationId, function: options.name, ...summary }, 'scheduled run')
      return { ...summary, ok: true, function: options.name }
    } catch (err) {
      fallbackLog ??= createLogger()
      const log = built?.services.log ?? fallbackLog
      log.error({ err, activationId, function: options.name }, 'scheduled run failed')
      const error = err instanceof Error ? err.name : 'Error'
      return { ok: false, function: options.name, error, activationId }
    }
  }
}
