import { setTimeout as sleepFor } from 'node:timers/promises'

/** Where the Upstash REST API is (`UPSTASH_REDIS_REST_URL` / `_TOKEN`). */
export type UpstashSettings = { url: string; token: string }

/** A script's keys and arguments; numbers travel as JSON numbers, as Upstash's own client sends them. */
type ScriptArgs = readonly (string | number)[]

/** The part of Upstash Redis the rate limiter and the pacer use: scripts, and a ping for health. */
export type UpstashRedis = {
  /** `EVAL script numkeys …keys …args`: the script's reply. @throws {UpstashError} */
  eval(script: string, keys: readonly string[], args: ScriptArgs): Promise<unknown>
  /** `EVALSHA`: as `eval`, by the script's SHA-1; `NOSCRIPT` when Redis does not know it. @throws {UpstashError} */
  evalsha(sha: string, keys: readonly string[], args: ScriptArgs): Promise<unknown>
  /** `PING`: `'PONG'`. @throws {UpstashError} */
  ping(): Promise<unknown>
}

/**
 * Upstash answered with an error (`{ error }`: a Redis error such as `NOSCRIPT`, a refused token)
 * or could not be reached. The message names the answer, never the command (its keys hold
 * addresses) nor the token.
 */
export class UpstashError extends Error {
  override readonly name = 'UpstashError'
}

// The body of an answer: `{ result }`, or `{ error }` for a Redis error (400) or a refused token (401).
function outcomeOf(body: unknown, status: number): unknown {
  const answer = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
  if (typeof answer.error === 'string') {
    throw new UpstashError(`Upstash answered HTTP ${status}: ${answer.error}`)
  }
  if (status < 200 || status >= 300 || !('result' in answer)) {
    throw new UpstashError(`Upstash answered HTTP ${status} without a result.`)
  }
  return answer.result
}

/**
 * The REST client shared by the rate limiter and the pacer, one per warm container: commands
 * issued in the same tick travel together (upstreams.md §6.1), one as a single command, several as
 * one `/pipeline` whose answers come back in order, each its own result or error; so a burst of
 * limit checks in one process costs one round trip, not one connection each. Answers are read raw
 * (no `Upstash-Encoding`). A failed connection is tried again `retries` times (default 1, after
 * 50 ms), enough for a dropped keep-alive connection and short of any request's wait for its
 * limit; an HTTP error answer is never retried.
 * @example const redis = createUpstashRedis(config.rateLimit.upstash)
 */
export function createUpstashRedis(
  settings: UpstashSettings,
  options: { retries?: number; fetch?: typeof fetch } = {},
): UpstashRedis {
  const url = settings.url.replace(/\/+$/, '')
  const retries = options.retries ?? 1
  const fetchApi = options.fetch ?? globalThis.fetch
  const headers = {
    Authorization: `Bearer ${settings.token}`,
    'Content-Type': 'application/json',
  }
  type Waiting = {
    args: readonly (string | number)[]
    resolve: (value: unknown) => void
    reject: (err: unknown) => void
  }
  let batch: Waiting[] = []

  async function post(path: string, body: string): Promise<Response> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await fetchApi(`${url}${path}`, { method: 'POST', headers, body, redirect: 'error' })
      } catch (cause) {
        if (attempt >= retries) {
          throw new UpstashError('Upstash could not be reached.', { cause })
        }
        await sleepFor(50)
      }
    }
  }

  async function send(waiting: Waiting[]): Promise<void> {
    try {
      if (waiting.length === 1) {
        const [only] = waiting as [Waiting]
        const response = await post('', JSON.stringify(only.args))
        const json = await response.json().catch(() => undefined)
        only.resolve(outcomeOf(json, response.status))
        return
      }
      const response = await post('/pipeline', JSON.stringify(waiting.map((w) => w.args)))
      const json = await response.json().catch(() => undefined)
      if (!Array.isArray(json) || json.length !== waiting.length) {
        outcomeOf(json, response.status) // throws: an error answer, or one without results
        throw new UpstashError(`Upstash answered HTTP ${response.status} without a result.`)
      }
      waiting.forEach((w, i) => {
        try {
          w.resolve(outcomeOf(json[i], response.status))
        } catch (err) {
          w.reject(err)
        }
      })
    } catch (err) {
      for (const w of waiting) {
        w.reject(err)
      }
    }
  }

  function command(args: readonly (string | number)[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      batch.push({ args, resolve, reject })
      if (batch.length === 1) {
        setImmediate(() => {
          const waiting = batch
          batch = []
          void send(waiting)
        })
      }
    })
  }

  const script = (name: string, first: string, keys: readonly string[], args: ScriptArgs) =>
    command([name, first, keys.length, ...keys, ...args])
  return {
    eval: (source, keys, args) => script('eval', source, keys, args),
    evalsha: (sha, keys, args) => script('evalsha', sha, keys, args),
    ping: () => command(['ping']),
  }
}
