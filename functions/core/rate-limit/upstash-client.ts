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
 * The REST client shared by the rate limiter and the pacer, one per warm container: one command
 * per `POST` (upstreams.md §6.1), answers read raw (no `Upstash-Encoding`). A failed connection is
 * tried again `retries` times (default 1, after 50 ms), enough for a dropped keep-alive connection
 * and short of any request's wait for its limit; an HTTP error answer is never retried.
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

  async function command(args: readonly (string | number)[]): Promise<unknown> {
    const body = JSON.stringify(args)
    for (let attempt = 0; ; attempt += 1) {
      let response: Response
      try {
        response = await fetchApi(url, { method: 'POST', headers, body, redirect: 'error' })
      } catch (cause) {
        if (attempt < retries) {
          await sleepFor(50)
          continue
        }
        throw new UpstashError('Upstash could not be reached.', { cause })
      }
      const json = await response.json().catch(() => undefined)
      return outcomeOf(json, response.status)
    }
  }

  const script = (name: string, first: string, keys: readonly string[], args: ScriptArgs) =>
    command([name, first, keys.length, ...keys, ...args])
  return {
    eval: (source, keys, args) => script('eval', source, keys, args),
    evalsha: (sha, keys, args) => script('evalsha', sha, keys, args),
    ping: () => command(['ping']),
  }
}
