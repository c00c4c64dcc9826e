import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Command, Redis, ReplyError } from 'ioredis'

/**
 * One request as the bridge received it. `status` and `body` are what it answered (the body as
 * sent, so base64 when asked for), filled in once it has replied.
 */
export type BridgeRequest = { path: string; commands: unknown[][]; status?: number; body?: unknown }

/** A running bridge: Upstash's REST protocol on 127.0.0.1 in front of a real Redis. */
export type UpstashBridge = {
  /** Base URL for an Upstash REST client (`http://127.0.0.1:<port>`). */
  url: string
  token: string
  /** Every request with a well-formed body, in arrival order. */
  requests: BridgeRequest[]
  /** Delays every later reply by `ms` (0 turns it off), e.g. to trip the limiter's `timeout`. */
  setDelay(ms: number): void
  /** Answers the next `times` requests (default 1) with `status` and an `{ error }` body. */
  failNext(status: number, times?: number): void
  close(): Promise<void>
}

export type UpstashBridgeOptions = { redisUrl: string; token: string; port?: number }

type Outcome = { result: unknown } | { error: string }
type Prepared = { name: string; args: string[]; mapReply?: (reply: unknown) => unknown }

// Stateful or connection-bound commands would corrupt the connection shared by all requests.
const REFUSED = new Set(['select', 'quit', 'reset', 'multi', 'exec', 'discard', 'watch', 'monitor'])
/**
 * A command whose reply stays the raw RESP2 value: ioredis would otherwise apply its reply
 * transformers (HGETALL → an object keyed by strings), which are neither flat nor binary-safe.
 */
class RawCommand extends Command {
  override transformReply(result: Buffer | Buffer[]) {
    return result
  }
}

const ROUTES = ['/', '/pipeline', '/multi-exec']
// @upstash/ratelimit >= 2.1 starts its scripts with flags Redis 7.0 rejects (upstreams.md §6.3).
const SHEBANG = /^#!lua[^\n]*\n/

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex')
const isRedisError = (value: unknown): value is Error => value instanceof ReplyError
// Redis' own error replies are outcomes; anything else (connection lost, Redis down) means a 500.
const redisErrorOrThrow = (err: unknown) => {
  if (isRedisError(err)) {
    return err
  }
  throw err
}

function toArg(value: unknown): string {
  if (typeof value === 'string') {
    return value
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value)
  }
  return JSON.stringify(value)
}

/** RESP2 reply → JSON: bulk and status bytes as base64 or UTF-8, integers and nil as they are. */
function toJson(value: unknown, base64: boolean): unknown {
  if (Buffer.isBuffer(value)) {
    return value.toString(base64 ? 'base64' : 'utf8')
  }
  if (Array.isArray(value)) {
    return value.map((item) => toJson(item, base64))
  }
  if (value instanceof Error) {
    return value.message
  }
  return value ?? null
}

function parseBody(path: string, raw: string): unknown[][] | undefined {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    return undefined
  }
  const isCommand = (item: unknown): item is unknown[] => Array.isArray(item) && item.length > 0
  if (path === '/') {
    return isCommand(body) ? [body] : undefined
  }
  return Array.isArray(body) && body.length > 0 && body.every(isCommand) ? body : undefined
}

/**
 * Starts the bridge on 127.0.0.1 (a free port unless `port` is given). Redis need not be up yet:
 * requests made while it is unreachable get a 500.
 * @example const bridge = await startUpstashBridge({ redisUrl: 'redis://127.0.0.1:6379/1', token: 't' })
 */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  // maxRetriesPerRequest 0: fail fast (500) while Redis is down instead of queueing for seconds.
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 0 })
  const tx = redis.duplicate() // MULTI … EXEC only, so a transaction never interleaves with others
  for (const client of [redis, tx]) {
    client.on('error', () => {}) // each request reports its own failure; no "unhandled error event"
  }
  const scripts = new Map<string, string>() // sha1(script as sent) → script without its shebang
  const requests: BridgeRequest[] = []
  const sockets = new Set<Socket>()
  let delayMs = 0
  let failure = { status: 500, times: 0 }

  const send = (client: Redis, { name, args }: Prepared) =>
    client.sendCommand(new RawCommand(name, args)) as Promise<unknown>

  function strip(script: string) {
    const stripped = script.replace(SHEBANG, '')
    if (stripped !== script) {
      scripts.set(sha1(script), stripped)
    }
    return stripped
  }

  function prepare(command: unknown[]): Prepared | Outcome {
    const [name = '', ...args] = command.map(toArg)
    const [first = '', ...rest] = args
    const lower = name.toLowerCase()
    const sub = first.toLowerCase()
    if (REFUSED.has(lower) || lower.endsWith('subscribe')) {
      return { error: `ERR Command is not available: '${name}'` }
    }
    if (lower === 'eval' || lower === 'eval_ro') {
      return { name, args: [strip(first), ...rest] }
    }
    const known = scripts.get(sub)
    if (lower.startsWith('evalsha') && known !== undefined) {
      return { name: lower.replace('evalsha', 'eval'), args: [known, ...rest] }
    }
    if (lower === 'script' && sub === 'load') {
      // Redis answers sha1(stripped); the client expects the hash of what it sent.
      const [source = ''] = rest
      return { name, args: [first, strip(source)], mapReply: () => Buffer.from(sha1(source)) }
    }
    if (lower === 'script' && sub === 'flush') {
      scripts.clear()
    }
    return { name, args }
  }

  const settle = (reply: unknown, step: Prepared): Outcome =>
    isRedisError(reply)
      ? { error: reply.message }
      : { result: step.mapReply ? step.mapReply(reply) : reply }

  async function run(client: Redis, step: Prepared | Outcome): Promise<Outcome> {
    return 'name' in step ? settle(await send(client, step).catch(redisErrorOrThrow), step) : step
  }

  async function transaction(steps: Array<Prepared | Outcome>): Promise<Outcome[] | Outcome> {
    const refused = steps.find((step): step is Outcome => !('name' in step))
    if (refused) {
      return refused
    }
    const queued = steps as Prepared[]
    // Written in one tick on the dedicated connection, so nothing else lands between MULTI and EXEC.
    const [, queuedOutcomes, replies] = await Promise.all([
      send(tx, { name: 'multi', args: [] }),
      Promise.all(queued.map((step) => run(tx, step))),
      send(tx, { name: 'exec', args: [] }).catch(redisErrorOrThrow),
    ])
    if (!Array.isArray(replies)) {
      // EXECABORT: report why a command was refused while queueing, as Upstash does.
      const queueError = queuedOutcomes.find((outcome) => 'error' in outcome)
      return queueError ?? { error: 'EXECABORT Transaction discarded because of previous errors.' }
    }
    return replies.map((reply, index) => settle(reply, queued[index] as Prepared))
  }

  async function execute(path: string, commands: unknown[][]): Promise<readonly [number, unknown]> {
    const steps = commands.map(prepare)
    if (path === '/multi-exec') {
      const outcomes = await transaction(steps)
      return Array.isArray(outcomes) ? [200, outcomes] : [400, outcomes]
    }
    const outcomes = await Promise.all(steps.map((step) => run(redis, step)))
    const [single] = outcomes
    if (path === '/' && single) {
      return ['error' in single ? 400 : 200, single]
    }
    return [200, outcomes]
  }

  async function answer(req: IncomingMessage, path: string, commands?: unknown[][]) {
    if (failure.times > 0) {
      failure.times -= 1
      return [failure.status, { error: `injected failure (${failure.status})` }] as const
    }
    if (req.method !== 'POST') {
      return [405, { error: 'Method not allowed: use POST.' }] as const
    }
    if (req.headers.authorization !== `Bearer ${options.token}`) {
      return [401, { error: 'Unauthorized' }] as const
    }
    if (!ROUTES.includes(path)) {
      return [404, { error: `Not found: ${path}` }] as const
    }
    if (!commands) {
      return [400, { error: 'Body must be a command array (or an array of them).' }] as const
    }
    return execute(path, commands).catch((err: unknown) => {
      return [500, { error: `Redis is unavailable: ${(err as Error).message}` }] as const
    })
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    const raw = Buffer.concat(await req.toArray()).toString('utf8')
    const commands = ROUTES.includes(path) ? parseBody(path, raw) : undefined
    const entry: BridgeRequest | undefined = commands && { path, commands }
    if (entry) {
      requests.push(entry)
    }
    const [status, body] = await answer(req, path, commands)
    if (delayMs > 0) {
      await sleep(delayMs)
    }
    if (res.destroyed) {
      return // closed meanwhile: bridge.close() or the client gave up
    }
    const encoded = encode(body, String(req.headers['upstash-encoding']).toLowerCase() === 'base64')
    if (entry) {
      Object.assign(entry, { status, body: encoded })
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(encoded))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy()) // e.g. the request stream broke
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    token: options.token,
    requests,
    setDelay(ms) {
      delayMs = ms
    },
    failNext(status, times = 1) {
      failure = { status, times }
    },
    async close() {
      for (const socket of sockets) {
        socket.destroy()
      }
      server.close()
      redis.disconnect()
      tx.disconnect()
      await once(server, 'close')
    },
  }
}

/** Encodes `result` values only: `error` texts stay readable (upstreams.md §6.2). */
function encode(body: unknown, base64: boolean): unknown {
  const one = (outcome: unknown) =>
    outcome !== null && typeof outcome === 'object' && 'result' in outcome
      ? { result: toJson(outcome.result, base64) }
      : outcome
  return Array.isArray(body) ? body.map(one) : one(body)
}
