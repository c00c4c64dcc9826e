// `npm run fuzz -- --requests N [--seed S] [--url U] [--target in-process|http] [--concurrency C]`:
// runs the fuzzer, draws a progress line, prints the summary, exits 1 on any violation.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startEmbeddedPostgres } from '#sandbox/embedded-postgres.ts'
import { ROOT } from '../scripts/project.ts'
import { type FuzzProgress, type FuzzReport, runFuzz } from './fuzzer.ts'

const say = (line = '') => process.stdout.write(`${line}\n`)
const number = (n: number) => n.toLocaleString('en-US')

function progressLine(progress: FuzzProgress): string {
  const share = progress.total === 0 ? 1 : progress.sent / progress.total
  const width = 24
  const filled = Math.round(share * width)
  const rate = progress.sent / Math.max(progress.elapsedMs / 1000, 0.001)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]  ${number(progress.sent)}/${number(progress.total)} requests · ${Math.round(rate)}/s · ${progress.violations} violations`
}

/** The summary: requests by route and status, state checks, violations. */
export function renderSummary(report: FuzzReport): string[] {
  const statuses = Object.keys(report.byStatus).sort()
  const lines = [
    `target ${report.target} · seed ${report.seed} · ${number(report.requests)} requests (${number(report.requestsWithFollowUps)} with the fuzzer's cancels) in ${report.seconds.toFixed(1)} s · ${Math.round(report.perSecond)}/s`,
    ...report.notes.map((note) => `  ${note}`),
    '',
    `${'route'.padEnd(40)}${statuses.map((s) => s.padStart(7)).join('')}`,
  ]
  for (const [route, counts] of Object.entries(report.byRoute).sort()) {
    lines.push(
      `${route.padEnd(40)}${statuses.map((s) => String(counts[s] ?? '').padStart(7)).join('')}`,
    )
  }
  lines.push(
    `${'all'.padEnd(40)}${statuses.map((s) => String(report.byStatus[s] ?? '').padStart(7)).join('')}`,
  )
  lines.push('')
  lines.push(
    `state compared around ${report.stateChecks.compared} groups of refused or read-only hostile requests (${report.stateChecks.skipped} skipped: a write in them was accepted)`,
  )
  lines.push(`violations: ${report.violations.length}`)
  for (const violation of report.violations.slice(0, 20)) {
    lines.push(
      `  ${violation.kind} · ${violation.operation} · ${violation.status} · ${violation.detail}`,
    )
    lines.push(`    ${violation.request.split('\n').slice(0, 5).join('\n    ')}`)
  }
  return lines
}

async function main() {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '2000' },
      seed: { type: 'string' },
      url: { type: 'string' },
      target: { type: 'string', default: 'in-process' },
      concurrency: { type: 'string', default: '16' },
    },
  })
  const requests = Number(values.requests)
  if (!Number.isInteger(requests) || requests < 1) {
    throw new Error('--requests must be a whole number of at least 1')
  }
  if (values.target !== 'in-process' && values.target !== 'http') {
    throw new Error('--target must be in-process or http')
  }
  let databaseUrl = process.env.DATABASE_URL
  let stop: (() => Promise<void>) | undefined
  if (!databaseUrl) {
    if (values.url) {
      throw new Error('--url needs DATABASE_URL: the database of the server at that URL')
    }
    say('no DATABASE_URL: starting an embedded PostgreSQL in .data/fuzz-postgres…')
    const server = await startEmbeddedPostgres({ dataDir: join(ROOT, '.data', 'fuzz-postgres') })
    databaseUrl = server.url
    stop = server.stop
  }
  let lastLine = 0
  try {
    const report = await runFuzz({
      requests,
      ...(values.seed !== undefined && { seed: Number(values.seed) }),
      ...(values.url !== undefined && { url: values.url }),
      target: values.target,
      databaseUrl,
      redisUrl: process.env.REDIS_URL,
      secret: process.env.JWT_SECRET_KEY,
      adminKey: process.env.ADMIN_KEY,
      concurrency: Number(values.concurrency),
      onViolation(violation) {
        say(
          `violation: ${violation.kind} · ${violation.operation} · ${violation.status} · ${violation.detail}`,
        )
        say(`  ${violation.request.split('\n').slice(0, 3).join('\n  ')}`)
      },
      onProgress(progress) {
        if (Date.now() - lastLine > 2000 || progress.sent === progress.total) {
          lastLine = Date.now()
          say(progressLine(progress))
        }
      },
    })
    say()
    for (const line of renderSummary(report)) {
      say(line)
    }
    process.exitCode = report.violations.length > 0 ? 1 : 0
  } finally {
    await stop?.()
  }
}

main().then(
  // The functions' pools stay open for their warm containers; the run is over.
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(
      `fuzz failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    process.exit(2)
  },
)
