// What the backfill command shows of a job.
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

/** A line of `npm run backfill -- jobs`: id, when it was created (UTC), and its progress. */
export function renderJobRow(
  job: Pick<JobView, 'id' | 'createdAt' | 'status' | 'progress'>,
): string {
  const created = job.createdAt.slice(0, 16).replace('T', ' ')
  return `${job.id}  ${created}  ${renderProgress(job, 12)}`
}
