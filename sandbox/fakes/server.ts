import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request as a fake received it. */
export type RecordedRequest = {
  method: string
  path: string
  query: URLSearchParams
  headers: Record<string, string>
  body: unknown
  rawBody: string
}

/** What a fake's route answers. A string body is sent as is; anything else as JSON. */
export type FakeResponse = {
  status: number
  headers?: Record<string, string>
  body?: unknown
}

/**
 * A scripted fault for the next `times` requests matching `method` and `path` (a prefix or a RegExp).
 * `respond` answers with a status; `hang` never answers (client time-outs); `drop` resets the socket.
 */
export type FaultRule = {
  method?: string
  path?: string | RegExp
  times?: number
  delayMs?: number
} & (
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'hang' }
  | { kind: 'drop' }
  | { kind: 'delay' }
)

/** Every later request matching `method` and `path` (a prefix or a RegExp) is answered `ms` later. */
export type LatencyRule = { ms: number; method?: string; path?: string | RegExp }

export type FakeHandler = (req: RecordedRequest) => FakeResponse | Promise<FakeResponse>

/** A started fake HTTP server on 127.0.0.1 with a request log and fault injection. */
export type FakeServer = {
  url: string
  requests: RecordedRequest[]
  /** Queue a fault; faults are checked in order before the real handler. */
  fail(rule: FaultRule): void
  /** Fail a fraction of requests with the given statuses, from a seeded sequence (deterministic). */
  failRandomly(options: {
    rate: number
    statuses: number[]
    seed?: number
    headers?: Record<string, string>
    /** the error body, in the upstream's own shape (default `{ message }`) */
    body?: (status: number) => unknown
  }): void
  /**
   * Asks `pick` about every request that no queued fault matched: the rule it answers applies to
   * that request alone (undefined: served as usual). A soak's seeded fault mix plugs in here.
   */
  injectFaults(pick: ((req: RecordedRequest) => FaultRule | undefined) | undefined): void
  clearFaults(): void
  /** Every later request matching `path` (all when omitted) is answered `ms` later (0 turns it off). */
  setLatency(ms: number, path?: string | RegExp): void
  /**
   * Per-route latencies, replacing any set before: each request waits for the first rule it
   * matches (none: no wait). Requests wait side by side, as an upstream serves them.
   * @example jira.setLatencies([{ method: 'GET', path: '/rest/api/3/search/jql', ms: 300 }])
   */
  setLatencies(rules: readonly LatencyRule[]): void
  /** Awaited before each request is answered, so a test can hold one back (undefined: none). */
  onRequest(hook: ((req: RecordedRequest) => Promise<void> | void) | undefined): void
  close(): Promise<void>
}

function matches(rule: FaultRule, req: RecordedRequest): boolean {
  if (rule.method && rule.method.toUpperCase() !== req.method) {
    return false
  }
  if (rule.path === undefined) {
    return true
  }
  return typeof rule.path === 'string' ? req.path.startsWith(rule.path) : rule.path.test(req.path)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function send(res: ServerResponse, answer: FakeResponse) {
  const headers: Record<string, string> = { ...answer.headers }
  let payload = ''
  if (answer.body !== undefined) {
    if (typeof answer.body === 'string') {
      payload = answer.body
      headers['content-type'] ??= 'text/plain'
    } else {
      payload = JSON.stringify(answer.body)
      headers['content-type'] ??= 'application/json'
    }
  }
  res.writeHead(answer.status, headers)
  res.end(payload)
}

/** A small deterministic generator (mulberry32), so "random" faults repeat run to run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Starts a fake on 127.0.0.1 at a free port (or `port`).
 * @example const fake = await startFakeServer(async (req) => ({ status: 200, body: { ok: true } }))
 */
export async function startFakeServer(handle: FakeHandler, port = 0): Promise<FakeServer> {
  const requests: RecordedRequest[] = []
  const faults: FaultRule[] = []
  let random:
    | {
        next: () => number
        rate: number
        statuses: number[]
        headers: Record<string, string>
        body: (status: number) => unknown
      }
    | undefined
  const sockets = new Set<import('node:net').Socket>()
  let latencies: LatencyRule[] = []
  let hook: ((req: RecordedRequest) => Promise<void> | void) | undefined
  let picker: ((req: RecordedRequest) => FaultRule | undefined) | undefined

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const rawBody = await readBody(req)
      let body: unknown = rawBody
      if (rawBody && (req.headers['content-type'] ?? '').includes('json')) {
        try {
          body = JSON.parse(rawBody)
        } catch {
          body = rawBody
        }
      }
      const headers: Record<string, string> = {}
      for (const [key, value] of Object.entries(req.headers)) {
        headers[key] = Array.isArray(value) ? value.join(', ') : (value ?? '')
      }
      const recorded: RecordedRequest = {
        method: (req.method ?? 'GET').toUpperCase(),
        path: url.pathname,
        query: url.searchParams,
        headers,
        body,
        rawBody,
      }
      requests.push(recorded)

      const index = faults.findIndex((rule) => matches(rule, recorded))
      const rule = index >= 0 ? faults[index] : picker?.(recorded)
      if (rule) {
        if (index >= 0 && rule.times !== undefined) {
          rule.times -= 1
          if (rule.times <= 0) {
            faults.splice(index, 1)
          }
        }
        if (rule.delayMs) {
          await new Promise((resolve) => setTimeout(resolve, rule.delayMs))
        }
        if (rule.kind === 'hang') {
          return
        }
        if (rule.kind === 'drop') {
          req.socket.destroy()
          return
        }
        if (rule.kind === 'respond') {
          send(res, rule)
          return
        }
      }
      if (random && random.next() < random.rate) {
        const status = random.statuses[Math.floor(random.next() * random.statuses.length)] ?? 503
        send(res, { status, headers: random.headers, body: random.body(status) })
        return
      }
      await hook?.(recorded)
      const delayMs = latencies.find((rule) => matches({ kind: 'delay', ...rule }, recorded))?.ms
      if (delayMs) {
        await new Promise((resolve) => setTimeout(resolve, delayMs))
      }
      try {
        send(res, await handle(recorded))
      } catch (err) {
        send(res, { status: 500, body: { message: `fake failed: ${String(err)}` } })
      }
    })()
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    fail(rule) {
      faults.push({ ...rule })
    },
    failRandomly({
      rate,
      statuses,
      seed = 1,
      headers = {},
      body = (status) => ({ message: `injected ${status}` }),
    }) {
      random = { next: seededRandom(seed), rate, statuses, headers, body }
    },
    injectFaults(pick) {
      picker = pick
    },
    clearFaults() {
      faults.length = 0
      random = undefined
      latencies = []
      picker = undefined
      hook = undefined
    },
    setLatency(ms, path) {
      latencies = [{ ms, ...(path !== undefined && { path }) }]
    },
    setLatencies(rules) {
      latencies = rules.map((rule) => ({ ...rule }))
    },
    onRequest(next) {
      hook = next
    },
    async close() {
      for (const socket of sockets) {
        socket.destroy()
      }
      server.close()
      await once(server, 'close')
    },
  }
}
