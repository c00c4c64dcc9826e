import { AppError } from '#core/errors.ts'
import type { HttpHandler, HttpRequest, HttpResponse } from './types.ts'

/** What a route asks of its caller before it runs: `admin`, checked by the router's `authorize`. */
export type RouteAuth = 'admin'

type RouteBase = {
  method: 'GET' | 'POST' | 'DELETE'
  /** Literal segments and `:params`, e.g. `/:jobId/resume`. */
  path: string
}

/**
 * A route. One that declares `auth` receives the principal `authorize` returned, and never runs
 * for a caller it refused; one without runs for anyone.
 */
export type Route<P = never> =
  | (RouteBase & {
      auth?: undefined
      handle: (req: HttpRequest, params: Record<string, string>) => Promise<HttpResponse>
    })
  | (RouteBase & {
      auth: RouteAuth
      handle: (
        req: HttpRequest,
        params: Record<string, string>,
        principal: P,
      ) => Promise<HttpResponse>
    })

/** What the router needs for routes that declare `auth`. */
export type RouterOptions<P> = {
  /** Returns the caller, or throws (UNAUTHENTICATED, FORBIDDEN, …) to refuse them. */
  authorize?: (req: HttpRequest, auth: RouteAuth) => Promise<P>
}

function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean)
  const have = path.split('/').filter(Boolean)
  if (want.length !== have.length) {
    return undefined
  }
  const params: Record<string, string> = {}
  for (const [index, segment] of want.entries()) {
    const actual = have[index] ?? ''
    if (segment.startsWith(':')) {
      try {
        params[segment.slice(1)] = decodeURIComponent(actual)
      } catch {
        return undefined // a malformed escape (`%E0%A4%A`) matches no route: 404, not a throw
      }
    } else if (segment !== actual) {
      return undefined
    }
  }
  return params
}

/**
 * Dispatches on method and sub-path; an unknown path is 404 and a known path with another method
 * is 405 with an `Allow` header. A route that declares `auth` runs only after `authorize` accepted
 * the caller, so no handler can forget the check.
 * @throws {AppError} NOT_FOUND or METHOD_NOT_ALLOWED; whatever `authorize` throws
 * @throws {Error} when a route declares `auth` and no `authorize` was given (a wiring mistake)
 * @example createRouter([{ method: 'GET', path: '/', auth: 'admin', handle: list }], { authorize })
 */
export function createRouter<P = never>(
  routes: readonly Route<P>[],
  options: RouterOptions<P> = {},
): HttpHandler {
  const missing = 'Routes declare auth but the router was given no authorize function.'
  if (routes.some((route) => route.auth) && !options.authorize) {
    throw new Error(missing)
  }
  const authorize =
    options.authorize ??
    (async (): Promise<never> => {
      throw new Error(missing)
    })
  return async (req) => {
    const allowed: string[] = []
    for (const route of routes) {
      const params = match(route.path, req.path)
      if (!params) {
        continue
      }
      if (route.method !== req.method) {
        allowed.push(route.method)
        continue
      }
      if (route.auth === undefined) {
        return await route.handle(req, params)
      }
      const principal = await authorize(req, route.auth)
      return await route.handle(req, params, principal)
    }
    if (allowed.length > 0) {
      throw new AppError('METHOD_NOT_ALLOWED', `Use ${allowed.join(' or ')} on this path.`, {
        headers: { Allow: [...allowed, 'OPTIONS'].join(', ') },
      })
    }
    throw new AppError('NOT_FOUND', 'There is nothing at this path.')
  }
}
