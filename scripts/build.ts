// Bundles each function of project.yml into packages/<pkg>/<fn>/index.js (CommonJS, one file).
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'esbuild'
import { type ProjectFunction, ROOT, readFunctions } from './project.ts'

const TARGETS: Record<string, string> = {
  'nodejs:18': 'node18',
  'nodejs:22': 'node22',
  'nodejs:24': 'node24',
}

/** Builds every function; returns them with their bundle paths. */
export async function buildAll(options: { quiet?: boolean } = {}): Promise<ProjectFunction[]> {
  await rm(join(ROOT, 'packages'), { recursive: true, force: true })
  const functions = readFunctions()
  await Promise.all(
    functions.map((fn) =>
      build({
        entryPoints: [fn.source],
        outfile: fn.bundle,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: TARGETS[fn.runtime] ?? 'node22',
        external: ['pg-native'],
        minify: true,
        keepNames: true, // error names stay readable in logs
        sourcemap: 'inline',
        legalComments: 'none',
        logLevel: 'warning',
      }),
    ),
  )
  if (!options.quiet) {
    for (const fn of functions) {
      process.stdout.write(`built ${fn.pkg}/${fn.name} → ${fn.bundle.slice(ROOT.length + 1)}\n`)
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
