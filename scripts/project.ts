// Reads project.yml into a flat list of functions (shared by the build, the local server and tests).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'

/** The project root (this file lives in scripts/). */
export const ROOT = join(import.meta.dirname, '..')

export type Trigger = {
  name: string
  sourceType: string
  sourceDetails: { cron: string; withBody?: unknown }
}

export type ProjectFunction = {
  pkg: string
  name: string
  web: boolean | 'raw'
  runtime: string
  limits: { timeout?: number; memory?: number }
  triggers: Trigger[]
  source: string
  bundle: string
}

type RawFunction = Omit<Partial<ProjectFunction>, 'pkg'> & { name: string }
type RawPackage = { name: string; functions?: RawFunction[] }

/** Every function of project.yml with its source entry and its bundle path. */
export function readFunctions(root = ROOT): ProjectFunction[] {
  const project = parse(readFileSync(join(root, 'project.yml'), 'utf8')) as {
    packages?: RawPackage[]
  }
  return (project.packages ?? []).flatMap((pkg) =>
    (pkg.functions ?? []).map((fn) => {
      const fileEntry = join(root, 'functions', pkg.name, `${fn.name}.ts`)
      return {
        pkg: pkg.name,
        name: fn.name,
        web: fn.web ?? true,
        runtime: fn.runtime ?? 'nodejs:22',
        limits: fn.limits ?? {},
        triggers: fn.triggers ?? [],
        source: existsSync(fileEntry)
          ? fileEntry
          : join(root, 'functions', pkg.name, fn.name, 'index.ts'),
        bundle: join(root, 'packages', pkg.name, fn.name, 'index.js'),
      }
    }),
  )
}
