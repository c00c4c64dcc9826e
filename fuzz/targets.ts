// Where fuzz requests go. In process: each function's real `main` (functions/v1/<fn>/index.ts)
// gets the event and context DigitalOcean's platform would build, and its result is turned into
// the HTTP answer the platform would send (scripts/local-platform.ts, which the local server uses
// too). Over HTTP: the local server or a deployed site, each request from a client address of its
// own (a loopback address for the local server).
import { request } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { type Answer, invokeWeb, type Main, toWebEvent } from '../scripts/local-platform.ts'
import { readFunctions } from '../scripts/project.ts'
import type { WireRequest } from './wire.ts'

export type { Answer }

/** Sends a request and resolves with the answer (a failed connection rejects). */
export type Target = { name: 'in-process' | 'http'; send(request: WireRequest): Promise<Answer> }

// Event shapes the platform never sends but a function must survive (in process only).
function bend(event: ReturnType<typeof toWebEvent>, oddity: string | undefined): unknown {
  const http: Record<string, unknown> = { ...event.http }
  switch (oddity) {
    case 'base64-invalid':
      return { http: { ...http, isBase64Encoded: true, body: '!!not*base64$$' } }
    case 'base64-padding':
      return {
        http: {
          ...http,
          isBase64Encoded: true,
          body: `${String(http.body).replace(/=+$/, '')}===`,
        },
      }
    case 'base64-whitespace':
      return {
        http: {
          ...http,
          isBase64Encoded: true,
          body: String(http.body).replace(/(.{4})/g, '$1 \n'),
        },
      }
    case 'base64-flag-text':
      return { http: { ...http, isBase64Encoded: 'true' } }
    case 'no-http':
      return {
        __ow_method: String(http.method).toLowerCase(),
        __ow_headers: http.headers,
        __ow_path: http.path,
        days: '1',
      }
    case 'headers-not-object':
      return { http: { ...http, headers: 'x-admin-key: nope' } }
    case 'method-number':
      return { http: { ...http, method: 42 } }
    case 'body-object':
      return { http: { ...http, body: { days: 1 } } }
    case 'query-number':
      return { http: { ...http, queryString: 5 } }
    case 'null-event':
      return null
    default:
      return event
  }
}

/**
 * The web functions of project.yml, called in this process as the platform calls them.
 * `mains` maps a function name (`login`) to its `main`.
 */
export function inProcessTarget(
  mains: Readonly<Record<string, Main>>,
  namespace = 'local',
): Target {
  const functions = new Map(readFunctions().map((fn) => [`${fn.name}`, fn]))
  return {
    name: 'in-process',
    async send(req) {
      const fn = functions.get(req.fn)
      const main = mains[req.fn]
      if (!fn || !main) {
        throw new Error(`no web function ${req.fn}`)
      }
      const forwarded = req.headers['x-forwarded-for']
      const headers = {
        ...req.headers,
        // The edge appends the address it saw; what the client sent stays to its left.
        'x-forwarded-for': forwarded ? `${forwarded}, ${req.clientIp}` : req.clientIp,
        'x-forwarded-proto': 'https',
      }
      const event = toWebEvent({
        method: req.method,
        path: req.path,
        search: req.query ? `?${req.query}` : '',
        headers,
        body: req.body,
      })
      const { answer } = await invokeWeb(fn, main, bend(event, req.eventOddity), namespace)
      return answer
    },
  }
}

// A path as a request line may carry it: what URLs allow stays, the rest is percent-encoded.
function safePath(path: string): string {
  return path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g, (c) => encodeURIComponent(c))
}

// The framing is HTTP's own (a request claiming another length never reaches a function).
function framed(headers: Record<string, string>): Record<string, string> {
  const { 'content-length': _length, 'transfer-encoding': _encoding, ...rest } = headers
  return rest
}

/**
 * The functions behind `base` (`http://127.0.0.1:3000/api/v1/web/local`), over HTTP. With
 * `loopback`, each request leaves from its `clientIp` (a 127.x.y.z address), so the server counts
 * it against that client.
 */
export function httpTarget(base: string, options: { loopback: boolean }): Target {
  const url = new URL(base)
  const send = url.protocol === 'https:' ? httpsRequest : request
  return {
    name: 'http',
    send(req) {
      const path = `${url.pathname.replace(/\/$/, '')}/v1/${req.fn}${safePath(req.path)}${req.query ? `?${req.query.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c))}` : ''}`
      return new Promise<Answer>((resolve, reject) => {
        const outgoing = send(
          {
            host: url.hostname,
            port: url.port,
            method: req.method,
            path,
            headers: { ...framed(req.headers), 'content-length': String(req.body.length) },
            agent: false,
            ...(options.loopback && { localAddress: req.clientIp }),
          },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (chunk: Buffer) => chunks.push(chunk))
            res.on('end', () => {
              const headers: Record<string, string> = {}
              for (const [name, value] of Object.entries(res.headers)) {
                headers[name] = Array.isArray(value) ? value.join(', ') : (value ?? '')
              }
              resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) })
            })
            res.on('error', reject)
          },
        )
        outgoing.on('error', reject)
        outgoing.end(req.body)
      })
    },
  }
}
