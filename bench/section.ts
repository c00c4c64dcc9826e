import type { BenchServer } from './database.ts'
import type { Figure } from './figures.ts'

/** What every section of `npm run bench` gets. */
export type BenchContext = {
  /** The short form: tiny sizes, seconds in all (the smoke test of `npm test`). */
  quick: boolean
  server: BenchServer
  /** One line of progress for the person watching. */
  progress(line: string): void
  /** Measurements one section shares with another (e.g. the Jira run the pacing comparison reuses). */
  shared: Map<string, Promise<unknown>>
}

/** A part of the benchmark: runs on its own (`--only <name>`) and returns its figures. */
export type Section = {
  name: string
  title: string
  run(context: BenchContext): Promise<Figure[]>
}

/** The median of `values` (the upper one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1] ?? 0
}

/** `value` rounded to `digits` decimals, for figures that read well. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** Memoises `make` under `key` in the context: the first section to ask runs it. */
export function sharedRun<T>(
  context: BenchContext,
  key: string,
  make: () => Promise<T>,
): Promise<T> {
  let found = context.shared.get(key) as Promise<T> | undefined
  if (!found) {
    found = make()
    context.shared.set(key, found)
  }
  return found
}
