// `npm run soak -- --minutes N [--seed S] [--fuzz-requests N] [--out FILE]`: the soak of README
// "Reliability". Prints a progress line while it runs and a summary table at the end, writes the
// figures to soak-results.json, and exits 1 when a target is missed (2 on a usage error).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from '../scripts/project.ts'
import { fuzzer } from './fuzz.ts'
import { runSoak, type SoakResults } from './run.ts'

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run soak -- --minutes N [--seed S] [--fuzz-requests N] [--out FILE]\n`,
  )
  process.exit(2)
}

function table(results: SoakResults): string[] {
  const rows: Array<[string, string, string]> = results.targets.map((t) => [
    t.name,
    String(t.value),
    `${t.target} ${t.met ? 'met' : 'MISSED'}`,
  ])
  const info: Array<[string, string]> = [
    ['requests by clients', String(results.requests.requests)],
    [
      'requests to upstreams',
      Object.values(results.requests.upstream)
        .reduce((a, b) => a + b, 0)
        .toString(),
    ],
    ['upstream faults injected', String(results.faults.total)],
    ['503 while PostgreSQL restarted', String(results.requests.unavailableDuringOutages)],
    ['503 while an upstream failed', String(results.requests.unavailableDuringUpstreamFaults)],
    ['worker invocations', String(results.workers.started)],
    ['upstream changes', String(Object.values(results.changes).reduce((a, b) => a + b, 0))],
    ['daily syncs', String(results.dailySyncs)],
    ['drain', `${results.drain.seconds} s${results.drain.drained ? '' : ' (not drained)'}`],
  ]
  const width = Math.max(...rows.map((r) => r[0].length), ...info.map((r) => r[0].length))
  return [
    `${'target'.padEnd(width)}  value  target`,
    ...rows.map(
      ([name, value, target]) => `${name.padEnd(width)}  ${value.padStart(5)}  ${target}`,
    ),
    '',
    ...info.map(([name, value]) => `${name.padEnd(width)}  ${value}`),
  ]
}

async function main() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      seed: { type: 'string' },
      'fuzz-requests': { type: 'string' },
      out: { type: 'string' },
    },
  })
  const minutes = Number(values.minutes)
  if (!values.minutes || !Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) {
    usage('--minutes must be a number of minutes above 0')
  }
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
  if (!Number.isSafeInteger(seed)) {
    usage('--seed must be a whole number')
  }
  const fuzzRequests = Number(values['fuzz-requests'] ?? 0)
  if (!Number.isSafeInteger(fuzzRequests) || fuzzRequests < 0) {
    usage('--fuzz-requests must be a whole number ≥ 0')
  }
  const out = values.out ?? join(ROOT, 'soak-results.json')

  const abort = new AbortController()
  let interruptedAt = 0
  process.on('SIGINT', () => {
    // npm and tsx pass a Ctrl-C on as well, so one press may arrive twice: a second press, a
    // moment later, stops at once.
    if (abort.signal.aborted) {
      if (Date.now() - interruptedAt > 2_000) {
        process.exit(130)
      }
      return
    }
    interruptedAt = Date.now()
    process.stdout.write('\ninterrupted: stopping the chaos, draining briefly, then reporting…\n')
    abort.abort()
  })

  const results = await runSoak({
    minutes,
    seed,
    fuzzRequests,
    fuzzer,
    ...(process.env.REDIS_URL && { redisUrl: process.env.REDIS_URL }),
    signal: abort.signal,
  })
  writeFileSync(
    out,
    `${JSON.stringify({ command: `npm run soak -- --minutes ${minutes} --seed ${seed}`, ...results }, null, 2)}\n`,
  )
  process.stdout.write(`\n${table(results).join('\n')}\n\nwritten to ${out}\n`)
  for (const error of results.requests.serverErrors.slice(0, 5)) {
    process.stdout.write(
      `  5xx: ${error.at} ${error.method} ${error.path} ${error.status} ${error.code}: ${error.message}\n`,
    )
  }
  for (const store of Object.entries(results.data ?? {})) {
    for (const example of store[1].examples.slice(0, 3)) {
      process.stdout.write(`  ${store[0]}: ${example}\n`)
    }
  }
  process.exit(results.interrupted ? 130 : results.ok ? 0 : 1)
}

main().catch((err: unknown) => {
  process.stderr.write(
    `soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exit(2)
})
