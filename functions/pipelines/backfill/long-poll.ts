import { createHash } from 'node:crypto'
import type { Clock } from '#core/clock.ts'
import { isActive, type JobView } from '#core/jobs/job-view.ts'

// `GET …/{jobId}?waitSeconds=N[&since=<version>]` (docs/ARCHITECTURE.md, "Following a job"): the
// request reads the job every POLL_INTERVAL_MS and answers at the first change, or after N seconds.
// Polling, not LISTEN/NOTIFY: the functions reach PostgreSQL through PgBouncer in transaction mode,
// which hands each transaction to any server connection, so a LISTEN would be lost; and a warm
// container has one pooled connection, which a LISTEN would hold for the whole wait.

/**
 * The longest wait a request may ask for, in seconds: DigitalOcean turns a web call longer than
 * 30 s into an asynchronous one, and project.yml gives the backfill functions 25 s.
 */
export const MAX_WAIT_SECONDS = 20
/** How often a waiting request reads the job, in ms. */
export const POLL_INTERVAL_MS = 500
/**
 * A wait ends this long before the activation would: time for the last read and the answer, so
 * the caller gets our JSON rather than the platform's timeout page.
 */
export const ANSWER_MARGIN_MS = 5000

/** How long a long poll may wait: what it asked for, within the activation's time less a margin. */
export function waitBudgetMs(waitSeconds: number, remainingMs: number): number {
  return Math.max(0, Math.min(waitSeconds * 1000, remainingMs - ANSWER_MARGIN_MS))
}

/**
 * A stamp of everything a follower sees change in a job: status, cancel request, times, counters
 * and the last error. The rate and ETA are left out: they move with the clock, not with the work.
 * 16 hex characters.
 * @example jobVersion(job) !== since // the job moved on since the caller's last look
 */
export function jobVersion(job: JobView): string {
  const { ratePerSecond: _rate, etaSeconds: _eta, ...progress } = job.progress
  const seen = [job.status, job.cancelRequested, job.startedAt, job.finishedAt, progress]
  return createHash('sha256').update(JSON.stringify(seen)).digest('hex').slice(0, 16)
}

/** What a wait needs: the job's current view (null once it is gone), the clock and a sleep. */
export type WaitDeps = {
  read: () => Promise<JobView | null>
  clock: Clock
  sleep: (ms: number) => Promise<void>
}

/**
 * The job once its version differs from `since` (by default, the version of `job`), once it has
 * finished (a finished job changes only when resumed), or when `waitMs` has passed: whichever comes
 * first. Null when the job disappears meanwhile (retention).
 * @example await waitForChange({ read, clock, sleep }, job, { since, waitMs: 20_000 })
 */
export async function waitForChange(
  deps: WaitDeps,
  job: JobView,
  options: { since?: string | undefined; waitMs: number },
): Promise<JobView | null> {
  const baseline = options.since ?? jobVersion(job)
  const deadline = deps.clock.now().getTime() + options.waitMs
  let latest = job
  while (jobVersion(latest) === baseline && isActive(latest.status)) {
    const left = deadline - deps.clock.now().getTime()
    if (left <= 0) {
      break
    }
    await deps.sleep(Math.min(POLL_INTERVAL_MS, left))
    const next = await deps.read()
    if (!next) {
      return null
    }
    latest = next
  }
  return latest
}
