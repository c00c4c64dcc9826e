import { AppError } from '#core/errors.ts'
import type { HttpHandler, HttpRequest, HttpResponse } from './types.ts'

/** A route: method and a path pattern of literal segments and `:params` (e.g. `/:jobId/resume`). */
export type Route = {
  method: 'GET' | 'POST' | 'DELETE'
  path: string
  handle: (req: HttpRequest, params: Record<string, string>) => Promise<HttpResponse>
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
 * is 405 with an `Allow` header.
 * @throws {AppError} NOT_FOUND or METHOD_NOT_ALLOWED
 */
export function createRouter(routes: readonly Route[]): HttpHandler {
  return async (req) => {
    const allowed: string[] = []
    for (const route of routes) {
      const params = match(route.path, req.path)
      if (!params) {
        continue
      }
      if (route.method === req.method) {
        return await route.handle(req, params)
      }
      allowed.push(route.method)
    }
    if (allowed.length > 0) {
      throw new AppError('METHOD_NOT_ALLOWED', `Use ${allowed.join(' or ')} on this path.`, {
        headers: { Allow: [...allowed, 'OPTIONS'].join(', ') },
      })
    }
    throw new AppError('NOT_FOUND', 'There is nothing at this path.')
  }
}
