// Cold start of every function's bundle beside a one-line hello-world function bundled the same
// way, in the same run: for each bundle, 10 pairs of fresh processes (`node -e "require(bundle)"`
// on the Node of the `nodejs:22` runtime), hello-world and the bundle in turn, first one then the
// other, so that the varying load of a shared machine weighs on both alike. The figure is the
// ratio of their medians; the size is the bundle's bytes / 1024.
// Run alone: npx tsx bench/cold-start.ts (prints a table); `npm run bench` calls measureColdStart.
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { NODE22_VERSION, node22Binary } from '#test/node22.ts'
import { buildAll, bundleFunction } from '../scripts/build.ts'
import { ROOT } from '../scripts/project.ts'
import { type Figure, figure } from './figures.ts'

/** A bundle may weigh at most this many KB (of 1024 bytes). */
export const MAX_BUNDLE_KB = 500
/** A bundle may take at most this many times hello-world's process start + require. */
export const MAX_COLD_START_RATIO = 1.5

const HELLO_WORLD = "export const main = () => ({ body: 'hello' })\n"
// Requires the bundle, then reports the CPU time the process used so far (start included).
const LOAD =
  'require(process.argv[1]);const u=process.cpuUsage();process.stdout.write(String((u.user+u.system)/1000))'

export type ColdStartOptions = {
  /** Pairs of processes per bundle (default 10). */
  rounds?: number
  /** Told one line per step (default: stderr). */
  progress?: (line: string) => void
}

/** One bundle's measurement. */
export type ColdStart = {
  fn: string
  bytes: number
  /** median ms of process start + require of the bundle */
  bundleMs: number
  /** median ms of the same for hello-world, measured alternately with it */
  helloMs: number
  /** median CPU ms of the bundle's processes: what a loaded machine's waiting leaves out */
  bundleCpuMs: number
  /** median CPU ms of hello-world's */
  helloCpuMs: number
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

type Load = { ms: number; cpuMs: number }

// One fresh process that requires `bundle` and ends: its wall time and its CPU time in ms.
function loadOnce(node: string, bundle: string): Load {
  const started = performance.now()
  const run = spawnSync(node, ['-e', LOAD, bundle], {
    env: { PATH: process.env.PATH },
    encoding: 'utf8',
  })
  const ms = performance.now() - started
  if (run.status !== 0) {
    throw new Error(`require(${bundle}) failed (exit ${run.status}): ${run.stderr.slice(0, 500)}`)
  }
  return { ms, cpuMs: Number(run.stdout) }
}

/** Builds every bundle and hello-world into a temporary directory and times each against it. */
export async function measureColdStarts(options: ColdStartOptions = {}): Promise<ColdStart[]> {
  const rounds = options.rounds ?? 10
  const progress = options.progress ?? ((line) => process.stderr.write(`${line}\n`))
  const dir = await mkdtemp(join(tmpdir(), 'cold-start-'))
  try {
    progress('cold start: building the bundles and hello-world')
    const node = node22Binary(ROOT)
    const built = await buildAll({ quiet: true, outDir: dir, mapsDir: join(dir, 'maps') })
    const hello = join(dir, 'hello', 'index.js')
    await writeFile(join(dir, 'hello.ts'), HELLO_WORLD)
    await bundleFunction({
      source: join(dir, 'hello.ts'),
      bundle: hello,
      runtime: 'nodejs:22',
      mapFile: join(dir, 'maps', 'hello.js.map'),
    })
    const results: ColdStart[] = []
    for (const [n, fn] of built.entries()) {
      const name = `${fn.pkg}/${fn.name}`
      // One unmeasured load of each, so neither pays for reading its file from disk first.
      loadOnce(node, hello)
      loadOnce(node, fn.bundle)
      const helloRuns: Load[] = []
      const bundleRuns: Load[] = []
      for (let round = 0; round < rounds; round += 1) {
        if (round % 2 === 0) {
          helloRuns.push(loadOnce(node, hello))
          bundleRuns.push(loadOnce(node, fn.bundle))
        } else {
          bundleRuns.push(loadOnce(node, fn.bundle))
          helloRuns.push(loadOnce(node, hello))
        }
      }
      const result = {
        fn: name,
        bytes: (await stat(fn.bundle)).size,
        bundleMs: median(bundleRuns.map((run) => run.ms)),
        helloMs: median(helloRuns.map((run) => run.ms)),
        bundleCpuMs: median(bundleRuns.map((run) => run.cpuMs)),
        helloCpuMs: median(helloRuns.map((run) => run.cpuMs)),
      }
      results.push(result)
      const ratio = (result.bundleMs / result.helloMs).toFixed(2)
      progress(`cold start: ${n + 1}/${built.length} ${name} ${ratio}×`)
    }
    return results
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Each measurement as its two figures: size (KB) and cold start against hello-world (×). */
export function coldStartFigures(results: readonly ColdStart[], rounds = 10): Figure[] {
  return results.flatMap((result) => [
    figure({
      id: `cold-start.${result.fn}.size`,
      label: `${result.fn} bundle size`,
      value: Math.round((result.bytes / 1024) * 10) / 10,
      unit: 'KB',
      target: { op: '<=', value: MAX_BUNDLE_KB },
      how: `npm run build (esbuild, minified); ${result.bytes} bytes`,
    }),
    figure({
      id: `cold-start.${result.fn}.ratio`,
      label: `${result.fn} cold start vs hello-world`,
      value: Math.round((result.bundleMs / result.helloMs) * 100) / 100,
      unit: 'x',
      target: { op: '<=', value: MAX_COLD_START_RATIO },
      how: `process start + require on Node ${NODE22_VERSION}, median of ${rounds} alternating with a one-line hello-world bundle: ${result.bundleMs.toFixed(1)} ms vs ${result.helloMs.toFixed(1)} ms (CPU ${result.bundleCpuMs.toFixed(1)} ms vs ${result.helloCpuMs.toFixed(1)} ms)`,
    }),
  ])
}

/**
 * Builds the bundles and a hello-world bundle the same way, and returns per bundle its size (target
 * ≤ 500 KB) and its process start + require against hello-world's (target ≤ 1.5×).
 * @example const figures = await measureColdStart()
 */
export async function measureColdStart(options: ColdStartOptions = {}): Promise<Figure[]> {
  return coldStartFigures(await measureColdStarts(options), options.rounds ?? 10)
}

function table(results: readonly ColdStart[]): string {
  const rows = results.map((result) => {
    const kb = result.bytes / 1024
    const ratio = result.bundleMs / result.helloMs
    const cpuRatio = result.bundleCpuMs / result.helloCpuMs
    const met = kb <= MAX_BUNDLE_KB && ratio <= MAX_COLD_START_RATIO ? 'yes' : 'NO'
    return `| ${result.fn} | ${kb.toFixed(1)} | ${result.bundleMs.toFixed(1)} | ${result.helloMs.toFixed(1)} | ${ratio.toFixed(2)}× | ${met} | ${cpuRatio.toFixed(2)}× |`
  })
  return [
    `| bundle | KB (≤ ${MAX_BUNDLE_KB}) | start + require, ms | hello-world, ms | ratio (≤ ${MAX_COLD_START_RATIO}) | met | CPU ratio |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  measureColdStarts().then(
    (results) => process.stdout.write(`${table(results)}\n`),
    (err: unknown) => {
      process.stderr.write(
        `cold start failed: ${err instanceof Error ? err.message : String(err)}\n`,
      )
      process.exit(1)
    },
  )
}
