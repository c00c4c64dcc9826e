import {
  type CheckReport,
  databaseCheck,
  type HealthCheck,
  migrationsCheck,
  runCheck,
} from '#core/health/checks.ts'
import { createRouter } from '#core/http/router.ts'
import type { HttpHandler, HttpRequest } from '#core/http/types.ts'
import type { Services } from '#core/services.ts'

export type HealthDeps = Pick<Services, 'config' | 'clock' | 'pool'> & {
  /** Checks beyond the database (rate-limit store, Pinecone, queue), registered by the entry. */
  checks?: readonly HealthCheck[]
  /** Whether the caller may see check details (admins only). */
  isAdmin?: (req: HttpRequest) => Promise<boolean>
}

/** Whether a request asks for the dependency checks (`?deep=1`). */
export function isDeep(req: HttpRequest): boolean {
  return ['1', 'true'].includes(req.query.deep ?? '')
}

/** GET v1/health: liveness without touching dependencies; `?deep=1` checks them (503 on failure). */
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
        const reports = await Promise.all(
          checks.map(async (check) => [check.name, await runCheck(check, now)] as const),
        )
        const showDetails = (await deps.isAdmin?.(req).catch(() => false)) ?? false
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
