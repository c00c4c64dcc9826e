import {
  type CheckReport,
  databaseCheck,
  type HealthCheck,
  migrationsCheck,
  runCheck,
} from '#core/health/checks.ts'
import { createRouter } from '#core/http/router.ts'
import type { HttpHandler, HttpRequest } from '#core/http/types.ts'
import type { Envelope } from '#core/platform/do-event.ts'
import type { Services } from '#core/services.ts'

export type HealthDeps = Pick<Services, 'config' | 'clock' | 'pool'> & {
  /** Checks beyond the database (rate-limit store, Pinecone, queue), registered by the entry. */
  checks?: readonly HealthCheck[]
  /** Whether the caller is an admin: runs the checks and sees their details. */
  isAdmin?: (req: HttpRequest) => Promise<boolean>
  /** Whether the caller is an uptime monitor (`X-Monitor-Token`): runs the checks, no details. */
  isMonitor?: (req: HttpRequest) => boolean
}

/** Whether a request asks for the dependency checks (`?deep=1`). */
export function isDeep(req: Pick<HttpRequest, 'query'>): boolean {
  return ['1', 'true'].includes(req.query.deep ?? '')
}

/**
 * Whether a request is the plain liveness probe the per-client limits exempt: a `GET` of the
 * function itself with no body and no `deep`. Anything else (a POST, a body, a deep check) is
 * counted, so the exemption cannot carry work past the limits.
 */
export function isLivenessProbe(envelope: Envelope): boolean {
  return envelope.method === 'GET' && envelope.path === '' && !envelope.hasBody && !isDeep(envelope)
}

/**
 * GET v1/health: liveness without touching dependencies; `?deep=1` from an admin or a monitor
 * runs the checks (503 on failure). Anyone else asking for `deep` gets the liveness answer: the
 * checks cost queries and upstream calls, not something to hand out.
 */
export function createHealthHandler(deps: HealthDeps): HttpHandler {
  const checks = [databaseCheck(deps.pool), migrationsCheck(deps.pool), ...(deps.checks ?? [])]
  const now = () => deps.clock.now().getTime()
  const base = () => ({ version: deps.config.version, time: deps.clock.now().toISOString() })

  return createRouter([
    {
      method: 'GET',
      path: '/',
      handle: async (req) => {
        if (!isDeep(req)) {
          return { status: 200, body: { status: 'ok', ...base() } }
        }
        const isMonitor = deps.isMonitor?.(req) ?? false
        const isAdmin = !isMonitor && ((await deps.isAdmin?.(req).catch(() => false)) ?? false)
        if (!isMonitor && !isAdmin) {
          return { status: 200, body: { status: 'ok', ...base() } }
        }
        const reports = await Promise.all(
          checks.map(async (check) => [check.name, await runCheck(check, now)] as const),
        )
        const showDetails = isAdmin
        const body: Record<string, CheckReport> = {}
        for (const [name, report] of reports) {
          const { details, ...summary } = report
          body[name] = showDetails && details ? report : summary
        }
        const ok = reports.every(([, report]) => report.status === 'pass')
        return {
          status: ok ? 200 : 503,
          body: { status: ok ? 'ok' : 'degraded', ...base(), checks: body },
        }
      },
    },
  ])
}
