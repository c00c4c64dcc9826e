import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** A running `npm start` (scripts/dev-server.ts) in a child process. */
export type LocalServer = {
  /** `http://127.0.0.1:<port>` */
  origin: string
  /** `http://127.0.0.1:<port>/api/v1/web/local`, the base URL of the functions */
  base: string
  /** Runs a function now, as `doctl serverless functions invoke` does; answers its result. */
  invoke(name: string, event?: unknown): Promise<Record<string, unknown>>
  stop(): Promise<void>
}

/**
 * Starts the local server with free ports and `env` (PATH and HOME are passed on), and resolves
 * once it prints its URLs.
 * @example const server = await startLocalServer({ DATABASE_URL: url, LOG_LEVEL: 'warn' })
 */
export async function startLocalServer(env: Record<string, string>): Promise<LocalServer> {
  const script = join(import.meta.dirname, '..', 'scripts', 'dev-server.ts')
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      SANDBOX_PORT_BASE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  const origin = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.push(line)
      const ready = /^try: curl (http:\/\/127\.0\.0\.1:\d+)\//.exec(line)
      if (ready?.[1]) {
        resolve(ready[1])
      }
    })
    child.once('exit', (code) =>
      reject(new Error(`local server exited (${code}):\n${output.join('\n')}`)),
    )
  })
  return {
    origin,
    base: `${origin}/api/v1/web/local`,
    async invoke(name, event = {}) {
      const res = await fetch(
        `${origin}/api/v1/namespaces/local/actions/${name}?blocking=true&result=true`,
        {
          method: 'POST',
          body: JSON.stringify(event),
        },
      )
      return (await res.json()) as Record<string, unknown>
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit')
        child.kill('SIGTERM')
        await exited
      }
    },
  }
}
