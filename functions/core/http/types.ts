// The web request and response as every handler sees them, whatever the platform's event shape
// (functions/core/platform/do-event.ts maps DigitalOcean's).

/** A web request, independent of DigitalOcean's event shape. */
export type HttpRequest = {
  method: string // upper case
  path: string // the sub-path after /<package>/<function>: '' or '/…'
  headers: Readonly<Record<string, string>> // lower-case names
  query: Readonly<Record<string, string>> // first value of each key
  body: unknown // parsed JSON, or undefined when empty
  requestId: string
  clientIp: string
  /** The function's public path, `/api/v1/web/<namespace>/<package>/<function>`; '' when unknown. */
  functionPath: string
  /** Milliseconds until the platform ends this activation (`Infinity` when it does not say). */
  remainingMs: () => number
}

/** What a handler answers; `body` is serialised as JSON. */
export type HttpResponse<T = unknown> = {
  status: number
  headers?: Record<string, string>
  body?: T
}

/** A web function's behaviour. */
export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>
