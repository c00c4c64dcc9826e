// `npm run bench` (README, "Benchmarks"): runs the sections one after another, prints progress,
// writes bench/results.json and, after a long run of every section, the README's table. Exits 1
// when a target is missed or a section failed, 2 on bad arguments.
// Options: --quick (tiny sizes, seconds), --only <section>[,<section>…], --out <file>; a quick or
// partial run writes bench/results.partial.json unless --out names a file.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openBenchServer } from './database.ts'
import { updateReadme } from './readme.ts'
import { type BenchResults, summarise } from './results.ts'
import type { Section } from './section.ts'
import { SECTIONS } from './sections.ts'

export type BenchOptions = {
  quick: boolean
  only?: readonly string[]
  /** PostgreSQL to use (else an embedded one) */
  databaseUrl: string | undefined
  say(line: string): void
}

const ROOT = join(import.meta.dirname, '..')

/** Runs the chosen sections; a section that throws is reported as failed, the others still run. */
export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const chosen = chosenSections(options.only)
  const started = performance.now()
  options.say(
    `bench (${options.quick ? 'quick' : 'long'} form): ${chosen.map((s) => s.name).join(', ')}`,
  )
  const server = await openBenchServer(options.databaseUrl, ROOT)
  const sections: BenchResults['sections'] = []
  const shared = new Map<string, Promise<unknown>>()
  try {
    for (const [n, section] of chosen.entries()) {
      const sectionStart = performance.now()
      options.say(`[${n + 1}/${chosen.length}] ${section.title}`)
      const progress = (line: string) => options.say(`      ${line}`)
      const seconds = () => Math.round((performance.now() - sectionStart) / 100) / 10
      try {
        const figures = await section.run({ quick: options.quick, server, progress, shared })
        for (const f of figures) {
          options.say(
            `      ${f.met ? 'met   ' : 'MISSED'} ${f.label}: ${f.value} ${f.unit} (target ${f.target.op} ${f.target.value})`,
          )
        }
        sections.push({ name: section.name, title: section.title, seconds: seconds(), figures })
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        options.say(`      FAILED: ${message}`)
        sections.push({
          name: section.name,
          title: section.title,
          seconds: seconds(),
          figures: [],
          error: message.slice(0, 500),
        })
      }
    }
  } finally {
    await server.close()
  }
  return summarise(sections, options.quick ? 'quick' : 'long', (performance.now() - started) / 1000)
}

function chosenSections(only: readonly string[] | undefined): Section[] {
  if (!only || only.length === 0) {
    return [...SECTIONS]
  }
  const unknown = only.filter((name) => !SECTIONS.some((s) => s.name === name))
  if (unknown.length > 0) {
    throw new Error(
      `unknown section ${unknown.join(', ')}: one of ${SECTIONS.map((s) => s.name).join(', ')}`,
    )
  }
  return SECTIONS.filter((s) => only.includes(s.name))
}

/** The command line: `{ quick, only, out }` or an error sentence. */
export function parseArgs(
  args: readonly string[],
): { quick: boolean; only: string[]; out: string | undefined } | { error: string } {
  let quick = false
  const only: string[] = []
  let out: string | undefined
  for (let n = 0; n < args.length; n += 1) {
    const arg = args[n]
    if (arg === '--quick') {
      quick = true
    } else if (arg === '--only' || arg === '--out') {
      const value = args[n + 1]
      if (!value || value.startsWith('--')) {
        return { error: `${arg} needs a value` }
      }
      n += 1
      if (arg === '--only') {
        only.push(...value.split(',').filter(Boolean))
      } else {
        out = value
      }
    } else {
      return { error: `unknown argument ${arg}` }
    }
  }
  return { quick, only, out }
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2))
  if ('error' in parsed) {
    process.stderr.write(
      `${parsed.error}\nusage: npm run bench -- [--quick] [--only ${SECTIONS.map((s) => s.name).join('|')}] [--out FILE]\n`,
    )
    return 2
  }
  const say = (line: string) => process.stdout.write(`${line}\n`)
  const results = await runBench({
    quick: parsed.quick,
    only: parsed.only,
    databaseUrl: process.env.DATABASE_URL,
    say,
  })
  // bench/results.json holds full long runs only (README, "Benchmarks").
  const full = !parsed.quick && parsed.only.length === 0
  const out = parsed.out ?? join(ROOT, 'bench', full ? 'results.json' : 'results.partial.json')
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
  say(
    `\n${results.summary.met} of ${results.summary.total} targets met in ${results.summary.durationSeconds} s; written to ${out}`,
  )
  // The README shows the long form of every section only.
  if (full && parsed.out === undefined) {
    updateReadme(ROOT)
    say('README.md: benchmark table rewritten')
  }
  return results.summary.missed.length === 0 ? 0 : 1
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(2)
    },
  )
}
