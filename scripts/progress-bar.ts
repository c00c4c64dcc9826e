// What the backfill command shows of a job, and how often it asks.
import type { JobView } from '#core/jobs/job-view.ts'

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) {
    return `${s}s`
  }
  const m = Math.floor(s / 60)
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** `[#######.......]  3/8 chunks · 1,234 written · 56/s · ETA 1m20s · running` */
export function renderProgress(job: Pick<JobView, 'status' | 'progress'>, width = 24): string {
  const {
    chunksTotal,
    chunksDone,
    chunksFailed,
    itemsWritten,
    itemsFailed,
    ratePerSecond,
    etaSeconds,
  } = job.progress
  const finished = chunksDone + chunksFailed
  const filled = chunksTotal === 0 ? 0 : Math.round((finished / chunksTotal) * width)
  const parts = [
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`,
    `${finished}/${chunksTotal} chunks`,
    `${itemsWritten.toLocaleString('en-US')} written`,
  ]
  if (itemsFailed > 0) {
    parts.push(`${itemsFailed.toLocaleString('en-US')} failed`)
  }
  if (ratePerSecond !== null) {
    parts.push(`${Math.round(ratePerSecond)}/s`)
  }
  if (etaSeconds !== null) {
    parts.push(`ETA ${duration(etaSeconds)}`)
  }
  parts.push(job.status)
  return parts.join(' · ').replace(' · ', '  ')
}

/**
 * Seconds until the next poll: every request counts against the per-client limit (200 an hour),
 * so spread what remains of the window over it; wait out a 429's Retry-After.
 */
export function pollDelaySeconds(reply: { status: number; headers: Headers }): number {
  const retryAfter = Number(reply.headers.get('retry-after'))
  if (reply.status === 429 || reply.status === 503) {
    return Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 30
  }
  const remaining = Number(reply.headers.get('ratelimit-remaining'))
  const reset = Number(reply.headers.get('ratelimit-reset'))
  if (!Number.isFinite(remaining) || !Number.isFinite(reset) || remaining <= 0) {
    return 20
  }
  // Keep half of the budget for everything else this address does.
  return Math.min(60, Math.max(2, Math.ceil((reset / remaining) * 2)))
}
