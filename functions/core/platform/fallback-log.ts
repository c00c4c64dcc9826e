import type { Logger } from '#core/log.ts'

/**
 * The logger of errors that come before the services exist. Imported only then: pino weighs on
 * every cold start, and the services bring their own (docs/ARCHITECTURE.md, "Cold start").
 */
export async function fallbackLogger(): Promise<Logger> {
  return (await import('#core/log.ts')).createLogger()
}
