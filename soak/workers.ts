// A pool of jobs/worker processes: as the scheduler invokes the function every minute, the pool
// keeps `size` invocations running, each a process of its own that the soak may kill with SIGKILL;
// one that outlives its time limit is killed as the platform kills it.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { ROOT } from '../scripts/project.ts'
import { WORKER_BUDGET_MS, WORKER_GRACE_MS } from './engine-settings.ts'

// An invocation that ended this fast found nothing due.
const IDLE_RUN_MS = 6_000

export type WorkerPool = {
  /** SIGKILLs the running worker at `pick` (0 ≤ pick < 1) of the list; false when none runs. */
  kill(pick: number): boolean
  /** How many are running now. */
  running(): number
  /** Stats: invocations started, ended on their own, killed by the soak, killed at the time limit. */
  stats(): { started: number; ended: number; killed: number; timedOut: number; failed: number }
  /** Lines workers wrote on stderr (their crashes), the last ones. */
  errors(): string[]
  /** Stops starting new ones; waits for the running ones (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>
}

/**
 * Starts the pool with the stack's environment.
 * @example const pool = startWorkerPool({ size: 2, env: stack.env })
 */
export function startWorkerPool(options: {
  size: number
  env: Record<string, string>
  budgetMs?: number
}): WorkerPool {
  const script = join(ROOT, 'soak', 'worker-process.ts')
  const budgetMs = options.budgetMs ?? WORKER_BUDGET_MS
  const children = new Set<ChildProcess>()
  const stats = { started: 0, ended: 0, killed: 0, timedOut: 0, failed: 0 }
  const errors: string[] = []
  const killedBySoak = new WeakSet<ChildProcess>()
  let stopping = false

  function start() {
    const child = spawn(process.execPath, ['--import', 'tsx', script, String(budgetMs)], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // a Ctrl-C reaches the soak, which then stops its workers itself
    })
    stats.started += 1
    const startedAt = Date.now()
    children.add(child)
    child.stderr?.on('data', (chunk: Buffer) => {
      errors.push(chunk.toString().slice(0, 2000))
      errors.splice(0, Math.max(0, errors.length - 20))
    })
    const limit = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        stats.timedOut += 1
        killedBySoak.add(child)
        child.kill('SIGKILL')
      }
    }, budgetMs + WORKER_GRACE_MS)
    child.once('exit', (code) => {
      clearTimeout(limit)
      children.delete(child)
      if (!killedBySoak.has(child)) {
        stats.ended += 1
        if (code !== 0) {
          stats.failed += 1
        }
      }
      // The scheduler's next invocation: soon after a busy one, a little later after an idle one.
      if (!stopping) {
        setTimeout(() => stopping || start(), Date.now() - startedAt < IDLE_RUN_MS ? 2_000 : 200)
      }
    })
  }

  for (let n = 0; n < options.size; n += 1) {
    start()
  }

  return {
    kill(pick) {
      const list = [...children].filter((child) => !killedBySoak.has(child))
      const child = list[Math.min(list.length - 1, Math.floor(pick * list.length))]
      if (!child) {
        return false
      }
      stats.killed += 1
      killedBySoak.add(child)
      child.kill('SIGKILL')
      return true
    },
    running: () => children.size,
    stats: () => ({ ...stats }),
    errors: () => [...errors],
    async stop(graceMs = budgetMs + WORKER_GRACE_MS) {
      stopping = true
      const all = [...children]
      const timer = setTimeout(() => {
        for (const child of all) {
          child.kill('SIGKILL')
        }
      }, graceMs)
      await Promise.all(
        all.map((child) =>
          child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined,
        ),
      )
      clearTimeout(timer)
    },
  }
}
