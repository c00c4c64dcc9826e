// The dependency rules of docs/ARCHITECTURE.md ("Layers"), checked on every import of every
// TypeScript file: entries → pipelines → core → db; nothing that runs in a function reaches the
// sandbox, the tests, the scripts, the OpenAPI generator, the client or the fuzzer; the client (which runs in
// browsers) imports nothing at run time but itself, and only types from elsewhere; no two folders
// import each other, directly or around a loop.
// Run by `npm run check`; exits 1 and names each offending import.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { ROOT } from './project.ts'

type Layer =
  | 'entry'
  | 'pipelines'
  | 'core'
  | 'db'
  | 'sandbox'
  | 'test'
  | 'scripts'
  | 'bench'
  | 'openapi'
  | 'client'
  | 'fuzz'
  | 'soak'

// What each layer's non-test files may import (a test file may import anything).
const ALLOWED: Record<Layer, readonly Layer[]> = {
  entry: ['entry', 'pipelines', 'core', 'db'],
  pipelines: ['pipelines', 'core', 'db'],
  core: ['core', 'db'],
  db: ['db'],
  sandbox: ['sandbox'],
  test: ['test', 'sandbox', 'entry', 'pipelines', 'core', 'db', 'openapi', 'client'],
  scripts: ['scripts', 'sandbox', 'entry', 'pipelines', 'core', 'db', 'openapi', 'client'],
  bench: ['bench', 'test', 'sandbox', 'scripts', 'pipelines', 'core', 'db', 'client'],
  openapi: ['openapi', 'entry', 'pipelines', 'core', 'db'],
  client: ['client'],
  fuzz: ['fuzz', 'test', 'sandbox', 'scripts', 'entry', 'pipelines', 'core', 'db'],
  soak: [
    'soak',
    'fuzz',
    'test',
    'sandbox',
    'scripts',
    'entry',
    'pipelines',
    'core',
    'db',
    'client',
  ],
}

// What the client may import as types only (`import type`, erased from every bundle): the shapes
// the functions answer and validate. A value import of them would carry server code to browsers.
const CLIENT_TYPES_FROM: readonly Layer[] = ['entry', 'pipelines', 'core', 'db', 'openapi']

const ALIASES: Record<string, string> = {
  '#core/': 'functions/core/',
  '#pipelines/': 'functions/pipelines/',
  '#db/': 'db/',
  '#sandbox/': 'sandbox/',
  '#test/': 'test/',
  '#openapi/': 'openapi/',
  '#client/': 'client/',
  '#fuzz/': 'fuzz/',
}

// An import or re-export `… from '<specifier>'` (group 1: the names between, only identifiers,
// braces, commas, `*` and spaces; group 2: the specifier), a bare `import '<specifier>'` (group 3),
// or a dynamic import (group 4).
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s+([\w\s{},*$]*?)\s*from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

/** The layer of a repository path, or undefined for files outside the layers (configs). */
export function layerOf(path: string): Layer | undefined {
  if (/^functions\/(v1|jobs)\//.test(path)) {
    return 'entry'
  }
  const [top, second] = path.split('/')
  if (top === 'functions') {
    return second === 'pipelines' ? 'pipelines' : second === 'core' ? 'core' : 'entry'
  }
  const layers: Record<string, Layer> = {
    db: 'db',
    sandbox: 'sandbox',
    test: 'test',
    scripts: 'scripts',
    bench: 'bench',
    openapi: 'openapi',
    client: 'client',
    fuzz: 'fuzz',
    soak: 'soak',
  }
  return top ? layers[top] : undefined
}

/** The repository path an import specifier names, or undefined for packages and builtins. */
export function resolveImport(from: string, specifier: string): string | undefined {
  for (const [alias, folder] of Object.entries(ALIASES)) {
    if (specifier.startsWith(alias)) {
      return folder + specifier.slice(alias.length)
    }
  }
  if (specifier.startsWith('./') || specifier.startsWith('../')) {
    return posix.normalize(posix.join(posix.dirname(from), specifier))
  }
  return undefined
}

// The unit of the cycle check: a folder, except that core's loose modules (config, services, …)
// each count on their own, being the roots the folders below them share.
function unitOf(path: string): string {
  const folder = posix.dirname(path)
  return folder === 'functions/core' ? path : folder
}

const isTest = (path: string) => /\.(test|bench)\.ts$/.test(path)

/** One rule broken by one import. */
export type Violation = { from: string; to: string; rule: string }

/** Every broken rule among `files` (repository paths) read through `read`. */
export function findViolations(files: readonly string[], read: (path: string) => string) {
  const violations: Violation[] = []
  const edges = new Map<string, Set<string>>()
  for (const from of files) {
    const fromLayer = layerOf(from)
    if (!fromLayer) {
      continue
    }
    for (const match of read(from).matchAll(IMPORT)) {
      const specifier = match[2] ?? match[3] ?? match[4] ?? ''
      const typeOnly = /^type\s/.test(match[1] ?? '')
      const to = resolveImport(from, specifier)
      const toLayer = to ? layerOf(to) : undefined
      if (isTest(from)) {
        continue
      }
      if (fromLayer === 'client') {
        const rule = clientRule(specifier, toLayer, typeOnly)
        if (rule) {
          violations.push({ from, to: to ?? specifier, rule })
        }
      }
      if (!to || !toLayer) {
        continue
      }
      // The client's imports of the functions' types are judged by clientRule above.
      const typeFromServer = fromLayer === 'client' && CLIENT_TYPES_FROM.includes(toLayer)
      if (!ALLOWED[fromLayer].includes(toLayer) && !typeFromServer) {
        violations.push({ from, to, rule: `${fromLayer} may not import ${toLayer}` })
      }
      const fromFunction = from.split('/').slice(0, 3).join('/')
      if (fromLayer === 'entry' && toLayer === 'entry' && !to.startsWith(`${fromFunction}/`)) {
        violations.push({ from, to, rule: 'functions never import each other' })
      }
      const [a, b] = [unitOf(from), unitOf(to)]
      if (a !== b && !isTest(to)) {
        edges.set(a, (edges.get(a) ?? new Set()).add(b))
      }
    }
  }
  for (const cycle of folderCycles(edges)) {
    violations.push({
      from: cycle[0] ?? '',
      to: cycle.join(' → '),
      rule: 'folders import in a cycle',
    })
  }
  return violations
}

// The client's own rules, beyond its layer: it runs in browsers, so no Node module at all, and no
// package at run time (types are erased).
function clientRule(
  specifier: string,
  toLayer: Layer | undefined,
  typeOnly: boolean,
): string | undefined {
  if (specifier.startsWith('node:')) {
    return 'client runs in browsers: no node: module'
  }
  if (!toLayer && !specifier.startsWith('.') && !specifier.startsWith('#') && !typeOnly) {
    return 'client imports no package at run time'
  }
  if (toLayer && toLayer !== 'client' && CLIENT_TYPES_FROM.includes(toLayer) && !typeOnly) {
    return 'client imports only types from the functions (import type)'
  }
  return undefined
}

// Tarjan's strongly connected components: each one of several units is a cycle.
function folderCycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const visit = (node: string) => {
    index.set(node, index.size)
    low.set(node, index.get(node) ?? 0)
    stack.push(node)
    onStack.add(node)
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0))
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0))
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = []
      for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
        onStack.delete(top)
        component.push(top)
        if (top === node) {
          break
        }
      }
      if (component.length > 1) {
        cycles.push(component.reverse())
      }
    }
  }
  for (const node of edges.keys()) {
    if (!index.has(node)) {
      visit(node)
    }
  }
  return cycles
}

if (process.argv[1] === import.meta.filename) {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((path) => path.endsWith('.ts'))
  const violations = findViolations(files, (path) => readFileSync(posix.join(ROOT, path), 'utf8'))
  for (const v of violations) {
    console.error(`${v.from}: ${v.rule} (${v.to})`)
  }
  if (violations.length > 0) {
    process.exit(1)
  }
  console.log(`imports: ${files.length} files follow the layer rules`)
}
