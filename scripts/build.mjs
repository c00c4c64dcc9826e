// Bundles each function of project.yml into packages/<pkg>/<fn>/index.js (CommonJS, one file).
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'esbuild'
import { ROOT, readFunctions } from './project.mjs'

const TARGETS = { 'nodejs:22': 'node22', 'nodejs:24': 'node24', 'nodejs:18': 'node18' }

export async function buildAll({ quiet = false } = {}) {
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
        keepNames: true,
        sourcemap: 'inline',
        legalComments: 'none',
        logLevel: 'warning',
      }),
    ),
  )
  if (!quiet) {
    for (const fn of functions) {
      console.log(`built ${fn.pkg}/${fn.name} → ${fn.bundle.slice(ROOT.length + 1)}`)
    }
  }
  return functions
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildAll()
}
