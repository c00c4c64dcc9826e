// The worker loop of the job engine; its terms (job, kind, chunk, step, attempt, cursor, lease)
// are defined in docs/ARCHITECTURE.md ("The job engine").
import { ConfigError } from '#core/config.ts'
import { AppError } from '#core/errors.ts'
import type { Logger } from '#core/log.ts'
import { type BackoffPolicy, backoffMs, DEFAULT_BACKOFF } from './backoff.ts'
import { LeaseLostError } from './lease-fence.ts'
import type { ClaimedChunk, JobQueue, ReapSummary } from './queue.ts'
import type { JobRegistry } from './registry.ts'
import type { StepResult } from './types.ts'
import type { WorkerKicker, WorkerPool } from './workers.ts'

/** How one attempt of a chunk ended. */
export type ChunkOutcome = 'succeeded' | 'failed' | 'retrying' | 'released' | 'cancelled' | 'lost'

/** What one worker invocation did. */
export type WorkerSummary = {
  reaped: ReapSummary
  outcomes: Record<ChunkOutcome, number>
  pages: number
  /** Further workers this run asked for (fan-out). */
  kicked: number
  /**
   * `idle`: nothing was due, nor due soon enough to wait for; `time`: the invocation's budget ran
   * out; `busy`: every worker slot was taken, so this run took no chunk.
   */
  stoppedBy: 'idle' | 'time' | 'busy'
}

/** What a worker runs with; only `jobs`, `registry`, `log` and `remainingMs` are required. */
export type WorkerOptions = {
  jobs: Pick<
    JobQueue,
    'reap' | 'claim' | 'checkpoint' | 'heartbeat' | 'complete' | 'fail' | 'retry' | 'release'
  >
  registry: JobRegistry
  log: Logger
  /** Milliseconds left in this invocation (DigitalOcean's `context.getRemainingTimeInMillis`). */
  remainingMs: () => number
  /** No page is started with less than this left; a page still running at half of it is abandoned. */
  marginMs?: number
  /** Lease length; a dead worker's chunk is claimable again this long after its last write. */
  leaseMs?: number
  /** How often the lease is extended while a page runs (default: a third of the lease). */
  heartbeatMs?: number
  backoff?: BackoffPolicy
  random?: () => number
  /**
   * The worker slots and the queue's look-ahead. With them the worker waits in place for a chunk
   * due within `waitMs`; with an enabled `kicker` too, it holds a slot while it runs (none free:
   * it stops as `busy`) and asks for further workers, up to `workers.max`, while chunks are due.
   */
  workers?: Pick<WorkerPool, 'max' | 'acquire' | 'reserve' | 'release' | 'countDue' | 'nextDueInMs'>
  kicker?: WorkerKicker
  /** A chunk due within this long is waited for instead of ending the run (default 10 s). */
  waitMs?: number
  sleep?: (ms: number) => Promise<void>
}

type Settings = Required<Omit<WorkerOptions, 'workers' | 'kicker'>> &
  Pick<WorkerOptions, 'workers' | 'kicker'>
type StopReason = 'lost' | 'cancelled' | 'time'

/** Stop taking pages with 20 s left: time for a page in flight, the checkpoint and the release. */
export const DEFAULT_MARGIN_MS = 20_000
/** No chunk is claimed with less than this many margins left. */
export const CLAIM_MARGINS = 2
/**
 * An attempt that ends without a page counts towards `max_attempts` only when it started with at
 * least this many margins left (a minute by default). A shared pause after a 429 lasts at most
 * 5 minutes, so it can use up two such attempts of a chunk's eight, never all of them.
 */
export const FULL_ATTEMPT_MARGINS = 3
/** A chunk due within this long (a backoff, an upstream's short wait) is waited for in place. */
export const DEFAULT_WAIT_MS = 10_000
/** The shortest nap between claims while waiting in place (another worker may be claiming). */
const MIN_NAP_MS = 50
/** A minute: a dead worker's chunk waits at most this long (heartbeats renew it every 20 s). */
export const DEFAULT_LEASE_MS = 60_000
/** A worker whose lease was not renewed stops this long (at most a sixth of it) before it ends. */
export const LEASE_SAFETY_MS = 5_000

const OUTCOMES: readonly ChunkOutcome[] = [
  'succeeded',
  'failed',
  'retrying',
  'released',
  'cancelled',
  'lost',
]

/**
 * Reaps expired leases, then claims and runs chunks of the registered kinds until nothing is due
 * (nor due within `waitMs`, with `workers`) or the time budget nears its margin. Several workers
 * may run side by side; with `workers` and an enabled `kicker`, at most `workers.max`, and a run
 * asks for more while chunks are due (docs/ARCHITECTURE.md, "The job engine").
 * @example await runWorker({ jobs, registry, log, remainingMs: () => context.getRemainingTimeInMillis() })
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
  const settings: Settings = {
    marginMs: DEFAULT_MARGIN_MS,
    heartbeatMs: Math.max(Math.floor(leaseMs / 3), 10),
    backoff: DEFAULT_BACKOFF,
    random: Math.random,
    waitMs: DEFAULT_WAIT_MS,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    ...options,
    leaseMs,
  }
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<ChunkOutcome, number>
  const reaped = await settings.jobs.reap()
  const { workers, kicker } = settings
  const fanOut = workers && kicker?.enabled ? { workers, kicker } : undefined
  // With fan-out every run holds a slot until its deadline, so at most `max` run at once.
  const hold = fanOut && (await fanOut.workers.acquire(settings.remainingMs()))
  if (fanOut && !hold) {
    return { reaped, outcomes, pages: 0, kicked: 0, stoppedBy: 'busy' }
  }
  const asking: Promise<boolean>[] = []
  let pages = 0
  try {
    const stoppedBy = await work()
    return { reaped, outcomes, pages, kicked: asking.length, stoppedBy }
  } finally {
    // A kick in flight when the run returns would be frozen with its container: wait (≤ its bound).
    await Promise.all(asking)
    if (fanOut && hold) {
      await fanOut.workers.release(hold).catch((err: unknown) => {
        settings.log.warn({ err }, 'worker slot not released; it frees at the deadline')
      })
    }
  }

  async function work(): Promise<'idle' | 'time'> {
    for (;;) {
      // A chunk claimed now gets at least one margin of working time before the stop.
      if (settings.remainingMs() <= CLAIM_MARGINS * settings.marginMs) {
        return 'time'
      }
      const claimSentAt = performance.now() // the database starts the lease during the claim
      const claimed = await settings.jobs.claim({ kinds: settings.registry.names, leaseMs })
      if (!claimed) {
        if (await waitInPlace()) {
          continue
        }
        return 'idle'
      }
      await askForWorkers()
      const result = await runChunk(settings, claimed, claimSentAt)
      outcomes[result.outcome] += 1
      pages += result.pages
    }
  }

  // More chunks are due than this run holds: reserve free slots and ask for a worker for each.
  // Kicks run beside the chunk; each ends within its own bound.
  async function askForWorkers(): Promise<void> {
    if (!fanOut) {
      return
    }
    try {
      const due = await fanOut.workers.countDue(settings.registry.names, fanOut.workers.max)
      const reserved = due > 0 ? await fanOut.workers.reserve(due) : 0
      for (let n = 0; n < reserved; n += 1) {
        asking.push(fanOut.kicker.kick())
      }
    } catch (err) {
      settings.log.warn({ err }, 'could not ask for more workers; this one carries on')
    }
  }

  // A chunk due soon (a backoff, an upstream's short wait) is waited for while the budget allows
  // a claim after the wait; true when it waited.
  async function waitInPlace(): Promise<boolean> {
    if (!workers || settings.waitMs <= 0) {
      return false
    }
    const spareMs = settings.remainingMs() - CLAIM_MARGINS * settings.marginMs
    const withinMs = Math.min(settings.waitMs, spareMs - MIN_NAP_MS)
    if (withinMs < 0) {
      return false
    }
    const dueInMs = await workers.nextDueInMs(settings.registry.names, withinMs)
    if (dueInMs === undefined) {
      return false
    }
    await settings.sleep(Math.max(dueInMs, MIN_NAP_MS))
    return true
  }
}

// `claimSentAt`: the `performance.now()` at which the claim was sent.
async function runChunk(
  settings: Settings,
  claimed: ClaimedChunk,
  claimSentAt: number,
): Promise<{ outcome: ChunkOutcome; pages: number }> {
  const { jobs, log, leaseMs } = settings
  const { lease } = claimed
  const context = {
    jobId: lease.jobId,
    chunkId: lease.chunkId,
    kind: claimed.kind,
    seq: claimed.seq,
  }
  const controller = new AbortController()
  let stopReason: StopReason | undefined
  const stop = (reason: StopReason) => {
    stopReason ??= reason
    controller.abort(new Error(`chunk stopped: ${reason}`))
  }
  // The lease ends `leaseMs` after the last write that renewed it was sent, the claim first (the
  // database measures from a later instant). Without a renewal the worker stops itself a safety
  // margin before that, so a worker that cannot reach the database never writes once another may
  // hold the chunk; a claim that came back too late for that stops the chunk before it starts.
  const safetyMs = Math.min(LEASE_SAFETY_MS, Math.floor(leaseMs / 6))
  let renewedAt = claimSentAt
  let watchdog: ReturnType<typeof setTimeout> | undefined
  // Stopped by the watchdog, and a renewal confirmed afterwards (a checkpoint in flight then).
  let selfStopped = false
  let heldAfterStop = false
  const selfStop = () => {
    log.warn(context, 'lease not renewed before its deadline: the worker stops the chunk')
    selfStopped = true
    stop('lost')
  }
  const arm = () => {
    clearTimeout(watchdog)
    const left = renewedAt + leaseMs - safetyMs - performance.now()
    if (left <= 0) {
      selfStop()
      return
    }
    watchdog = setTimeout(selfStop, left)
  }
  const renewed = (sentAt: number) => {
    heldAfterStop ||= selfStopped
    if (sentAt > renewedAt) {
      renewedAt = sentAt
      arm()
    }
  }
  arm()
  const heartbeat = setInterval(() => {
    const sentAt = performance.now()
    jobs.heartbeat(lease, leaseMs).then(
      (held) => (held.kind === 'ok' ? renewed(sentAt) : stop(held.kind)),
      (err: unknown) => log.warn({ ...context, err }, 'lease heartbeat failed'),
    )
  }, settings.heartbeatMs)
  const hardStop = setTimeout(
    () => stop('time'),
    Math.max(settings.remainingMs() - settings.marginMs / 2, 0),
  )
  const kind = settings.registry.get(claimed.kind)
  // An attempt that started late in the invocation (or spent it waiting out an upstream's pause)
  // is no evidence that the chunk is stuck: without a page it gives its attempt back.
  const fullAttempt = settings.remainingMs() >= FULL_ATTEMPT_MARGINS * settings.marginMs
  let pages = 0
  let outcome: ChunkOutcome
  try {
    if (!kind) {
      throw new AppError('INTERNAL', `No runner is registered for job kind ${claimed.kind}.`)
    }
    const steps = kind.run({
      jobId: lease.jobId,
      params: claimed.params,
      scope: claimed.scope,
      cursor: claimed.cursor,
      lease,
      signal: controller.signal,
    })
    outcome = await drive(settings, claimed, steps, {
      stopped: () => stopReason,
      stop,
      renewed,
      paged: () => {
        pages += 1
      },
      progressed: () => pages > 0 || !fullAttempt,
    })
  } catch (err) {
    if (err instanceof LeaseLostError) {
      log.warn(context, 'a fenced write found the lease gone: the worker stops the chunk')
      outcome = 'lost'
    } else {
      outcome = stopReason
        ? await afterStop(settings, claimed, stopReason, pages > 0 || !fullAttempt)
        : await afterError(settings, claimed, err)
    }
  } finally {
    clearInterval(heartbeat)
    clearTimeout(hardStop)
    clearTimeout(watchdog)
  }
  if (outcome === 'lost' && heldAfterStop) {
    // The renewal that came back after the stop proves the lease ours: hand the chunk back now,
    // as after a stop for time, rather than leave it idle until its lease runs out.
    outcome = await afterStop(settings, claimed, 'time', pages > 0 || !fullAttempt).catch(
      (err: unknown) => {
        log.warn({ ...context, err }, 'chunk not released after the stop; its lease runs out')
        return 'lost' as const
      },
    )
  }
  log.info({ ...context, attempt: claimed.attempt, outcome, pages }, 'chunk attempt ended')
  return { outcome, pages }
}

type Control = {
  stopped: () => StopReason | undefined
  stop: (reason: StopReason) => void
  /** A write sent at this `performance.now()` renewed the lease. */
  renewed: (sentAt: number) => void
  paged: () => void
  /** Whether this attempt has checkpointed a page. */
  progressed: () => boolean
}

// Pulls steps until the runner is done, asks for a retry, or the attempt must stop. A page that
// arrives after a stop is still checkpointed while the lease is ours: its writes are durable.
async function drive(
  settings: Settings,
  claimed: ClaimedChunk,
  steps: AsyncGenerator<StepResult, void, void>,
  control: Control,
): Promise<ChunkOutcome> {
  const { jobs, leaseMs } = settings
  const { lease } = claimed
  for (;;) {
    if (!control.stopped() && settings.remainingMs() <= settings.marginMs) {
      control.stop('time')
    }
    const before = control.stopped()
    if (before) {
      await closeQuietly(steps)
      return afterStop(settings, claimed, before, control.progressed())
    }
    const next = await steps.next()
    if (control.stopped() === 'lost') {
      await closeQuietly(steps)
      return 'lost'
    }
    if (next.done) {
      const done = await jobs.complete(lease)
      return done.kind === 'done' ? 'succeeded' : 'lost'
    }
    const step = next.value
    if (step.kind === 'retry') {
      await closeQuietly(steps)
      return scheduleRetry(
        settings,
        claimed,
        `Upstream asked to retry (${step.reason}).`,
        step.retryAfterMs,
      )
    }
    const sentAt = performance.now()
    const held = await jobs.checkpoint(lease, step.cursor, step, leaseMs)
    control.paged()
    if (held.kind === 'ok') {
      control.renewed(sentAt)
    } else {
      control.stop(held.kind)
    }
  }
}

async function closeQuietly(steps: AsyncGenerator<StepResult, void, void>): Promise<void> {
  try {
    await steps.return(undefined)
  } catch {
    // The runner's own clean-up failed; the attempt ends either way.
  }
}

// Only an attempt that checkpointed a page gets its attempt back: one whose page never fits the
// budget would otherwise be released, and claimed again, forever.
async function afterStop(
  settings: Settings,
  claimed: ClaimedChunk,
  reason: StopReason,
  progressed: boolean,
): Promise<ChunkOutcome> {
  if (reason === 'lost') {
    return 'lost' // another worker holds the chunk: write nothing more
  }
  const released = await settings.jobs.release(claimed.lease, { progressed })
  switch (released.kind) {
    case 'released':
      return 'released'
    case 'exhausted':
      settings.log.warn(
        { jobId: claimed.lease.jobId, chunkId: claimed.lease.chunkId, kind: claimed.kind },
        'chunk failed: its last attempts finished no page within the time budget',
      )
      return 'failed'
    default:
      return released.kind
  }
}

function isPermanent(err: unknown): boolean {
  return (err instanceof AppError && !err.retryable) || err instanceof ConfigError
}

async function afterError(
  settings: Settings,
  claimed: ClaimedChunk,
  err: unknown,
): Promise<ChunkOutcome> {
  const context = { jobId: claimed.lease.jobId, chunkId: claimed.lease.chunkId, kind: claimed.kind }
  if (isPermanent(err)) {
    settings.log.warn({ ...context, err }, 'chunk failed permanently')
    const message = err instanceof AppError ? err.message : 'The function is misconfigured.'
    const failed = await settings.jobs.fail(claimed.lease, message)
    return failed.kind === 'done' ? 'failed' : 'lost'
  }
  settings.log.warn({ ...context, err }, 'chunk attempt failed')
  // Only an AppError's message is written for people; others may carry internals.
  const message =
    err instanceof AppError
      ? err.message
      : `Unexpected ${err instanceof Error ? err.name : 'error'}; see the worker log.`
  return scheduleRetry(settings, claimed, message)
}

async function scheduleRetry(
  settings: Settings,
  claimed: ClaimedChunk,
  error: string,
  retryAfterMs?: number,
): Promise<ChunkOutcome> {
  const delayMs = backoffMs(claimed.attempt, settings.backoff, settings.random, retryAfterMs)
  const retried = await settings.jobs.retry(claimed.lease, { delayMs, error })
  switch (retried.kind) {
    case 'scheduled':
      return 'retrying'
    case 'exhausted':
      return 'failed'
    default:
      return retried.kind
  }
}
