import { aContext } from './events.ts'
import type { WebMain } from './harness.ts'

/** A request as a function received it. */
export type SeenRequest = { method: string; fn: string; path: string; query: string }

/**
 * A `fetch` that hands each request for `<base>/v1/<fn>[/…]` to that web function's `main` as
 * DigitalOcean's `web: raw` event (headers lower-cased, the client address appended to
 * X-Forwarded-For), without a network: for tests of HTTP clients against the real functions.
 * `requests` records what arrived, in order.
 * @example const fetch = functionsFetch({ login: loginMain }); createApiClient({ baseUrl: FUNCTIONS_BASE, fetch })
 */
export function functionsFetch(
  mains: Record<string, WebMain>,
  options: { ip?: string; now?: () => number } = {},
) {
  const requests: SeenRequest[] = []
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    const [, fn = '', ...rest] = url.pathname.replace(/^\/api\/v1\/web\/local\//, '').split('/')
    const main = mains[fn]
    if (!main) {
      return Response.json({ error: 'The requested resource does not exist.' }, { status: 404 })
    }
    const headers = Object.fromEntries(request.headers)
    headers['x-forwarded-for'] = options.ip ?? '198.51.100.20'
    const path = rest.length ? `/${rest.join('/')}` : ''
    requests.push({ method: request.method, fn, path, query: url.search })
    const event = {
      http: {
        method: request.method,
        path,
        headers,
        queryString: url.search.replace(/^\?/, ''),
        body: await request.text(),
        isBase64Encoded: false,
      },
    }
    const context = { ...aContext(30_000, options.now), functionName: `/local/v1/${fn}` }
    const result = await main(event, context)
    const body = result.body === undefined ? null : JSON.stringify(result.body)
    return new Response(body, { status: result.statusCode, headers: result.headers })
  }
  return Object.assign(fetch, { requests })
}

/** The base URL `functionsFetch` answers under. */
export const FUNCTIONS_BASE = 'http://functions.test/api/v1/web/local'
