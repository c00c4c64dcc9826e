// Bundles each function of project.yml into packages/<pkg>/<fn>/index.js (CommonJS, one file).
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { build } from 'esbuild'
import { type ProjectFunction, ROOT, readFunctions } from './project.ts'

const TARGETS: Record<string, string> = {
  'nodejs:18': 'node18',
  'nodejs:22': 'node22',
  'nodejs:24': 'node24',
}

export type BuildOptions = {
  quiet?: boolean
  /** The project directory whose packages/ receives the bundles (default: the repository). */
  outDir?: string
  /** Where the source maps go (default: .cache/sourcemaps). */
  mapsDir?: string
}

/**
 * Bundles one entry the way every function is bundled (the cold-start benchmark builds its
 * hello-world function with it too); the source map goes to `mapFile`, never into the bundle.
 */
export async function bundleFunction(entry: {
  source: string
  bundle: string
  runtime: string
  mapFile: string
}): Promise<void> {
  const result = await build({
    entryPoints: [entry.source],
    outfile: entry.bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: TARGETS[entry.runtime] ?? 'node22',
    external: ['pg-native'],
    minify: true,
    keepNames: true, // error names stay readable in logs
    // The map stays out of the bundle (inline it costs ~35 ms of every cold start); it is kept
    // in .cache/sourcemaps/ to read deployed stack traces against.
    sourcemap: 'external',
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  })
  for (const file of result.outputFiles) {
    const target = file.path.endsWith('.map') ? entry.mapFile : file.path
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, file.contents)
  }
}

/** Builds every function; returns them with their bundle paths. */
export async function buildAll(options: BuildOptions = {}): Promise<ProjectFunction[]> {
  const outDir = options.outDir ?? ROOT
  const mapsDir = options.mapsDir ?? join(ROOT, '.cache', 'sourcemaps')
  await rm(join(outDir, 'packages'), { recursive: true, force: true })
  const functions = readFunctions().map((fn) => ({
    ...fn,
    bundle: join(outDir, 'packages', fn.pkg, fn.name, 'index.js'),
  }))
  await rm(mapsDir, { recursive: true, force: true })
  await Promise.all(
    functions.map((fn) =>
      bundleFunction({
        source: fn.source,
        bundle: fn.bundle,
        runtime: fn.runtime,
        mapFile: join(mapsDir, fn.pkg, fn.name, 'index.js.map'),
      }),
    ),
  )
  if (!options.quiet) {
    for (const fn of functions) {
      process.stdout.write(`built ${fn.pkg}/${fn.name} → ${relative(ROOT, fn.bundle)}\n`)
    }
  }
  return functions
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  buildAll().catch((err: unknown) => {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
