// Reads project.yml into a flat list of functions (shared by the build, the dev server and tests).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

/** The project root (this file lives in scripts/). */
export const ROOT = join(import.meta.dirname, '..')

/** Every function of project.yml with its source entry and its bundle path. */
export function readFunctions(root = ROOT) {
  const project = parse(readFileSync(join(root, 'project.yml'), 'utf8'))
  return (project.packages ?? []).flatMap((pkg) =>
    (pkg.functions ?? []).map((fn) => {
      const folderEntry = join(root, 'functions', pkg.name, fn.name, 'index.ts')
      const fileEntry = join(root, 'functions', pkg.name, `${fn.name}.ts`)
      return {
        pkg: pkg.name,
        name: fn.name,
        web: fn.web ?? true,
        runtime: fn.runtime,
        limits: fn.limits ?? {},
        triggers: fn.triggers ?? [],
        source: existsSync(fileEntry) ? fileEntry : folderEntry,
        bundle: join(root, 'packages', pkg.name, fn.name, 'index.js'),
      }
    }),
  )
}
