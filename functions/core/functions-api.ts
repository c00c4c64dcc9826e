// DigitalOcean's Functions API, used to ask for a worker run now: a non-blocking invocation
// authorised by a namespace access key (docs/ARCHITECTURE.md, "The job engine").
import type { WorkerKicker } from '#core/jobs/workers.ts'
import type { Logger } from '#core/log.ts'

/** A kick never holds its caller longer than this. */
export const KICK_TIMEOUT_MS = 1_000

/** Where the running function lives, as the runtime says (`__OW_API_HOST`, `__OW_NAMESPACE`). */
export type PlatformRuntime = { apiHost?: string | undefined; namespace?: string | undefined }

/** The runtime's API host and namespace from an environment (entries pass `process.env`). */
export function runtimeOf(env: Readonly<Record<string, string | undefined>>): PlatformRuntime {
  return { apiHost: env.__OW_API_HOST, namespace: env.__OW_NAMESPACE }
}

export type WorkerKickerOptions = {
  /** The namespace access key, `<id>:<secret>`; without one nothing is ever asked. */
  accessKey: string | undefined
  /** The function to invoke, `<package>/<function>`. */
  action: string
  /** Read at each kick: the runtime sets these for the activation. */
  runtime: () => PlatformRuntime
  log: Logger
  timeoutMs?: number
}

/**
 * Invokes `action` asynchronously (`POST {apiHost}/api/v1/namespaces/{namespace}/actions/{action}
 * ?blocking=false`, HTTP Basic with the access key). Resolves within `timeoutMs` whatever the API
 * does; an error, a refusal or the time-out is logged and resolves false (the cron then runs it).
 * @example const kicker = createWorkerKicker({ accessKey, action: 'jobs/worker', runtime: () => runtimeOf(process.env), log })
 */
export function createWorkerKicker(options: WorkerKickerOptions): WorkerKicker {
  const { accessKey, action, log } = options
  if (!accessKey) {
    return { enabled: false, kick: async () => false }
  }
  const timeoutMs = options.timeoutMs ?? KICK_TIMEOUT_MS
  const authorization = `Basic ${Buffer.from(accessKey, 'utf8').toString('base64')}`
  return {
    enabled: true,
    async kick() {
      const { apiHost, namespace } = options.runtime()
      if (!apiHost || !namespace) {
        log.warn({ action }, 'no API host or namespace from the runtime: no worker asked for')
        return false
      }
      const origin = (/^https?:\/\//i.test(apiHost) ? apiHost : `https://${apiHost}`).replace(
        /\/+$/,
        '',
      )
      const url = `${origin}/api/v1/namespaces/${encodeURIComponent(namespace)}/actions/${action}?blocking=false`
      const controller = new AbortController()
      let timer: ReturnType<typeof setTimeout> | undefined
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          controller.abort()
          resolve('timeout')
        }, timeoutMs)
      })
      const asked = fetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ trigger: 'kick' }),
        signal: controller.signal,
      }).then(
        async (res) => {
          await res.arrayBuffer().catch(() => undefined)
          return res.status
        },
        (err: unknown) => (err instanceof Error ? err.name : 'Error'),
      )
      try {
        const outcome = await Promise.race([asked, timedOut])
        if (typeof outcome === 'number' && outcome >= 200 && outcome < 300) {
          log.debug({ action }, 'worker asked for')
          return true
        }
        const reason = typeof outcome === 'number' ? { status: outcome } : { error: outcome }
        log.warn({ action, ...reason }, 'worker not asked for: the cron will run it')
        return false
      } finally {
        clearTimeout(timer)
      }
    },
  }
}
