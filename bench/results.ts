import { cpus } from 'node:os'
import type { Figure } from './figures.ts'

/** bench/results.json: every figure of one run, by section, and a summary. */
export type BenchResults = {
  summary: {
    /** figures whose target was met, of all figures */
    met: number
    total: number
    missed: string[]
    form: 'long' | 'quick'
    machine: { cores: number; cpu: string; node: string; platform: string }
    date: string
    durationSeconds: number
  }
  sections: Array<{
    name: string
    title: string
    seconds: number
    figures: Figure[]
    error?: string
  }>
}

/** The summary of `sections` as measured on this machine now. */
export function summarise(
  sections: BenchResults['sections'],
  form: 'long' | 'quick',
  durationSeconds: number,
): BenchResults {
  const figures = sections.flatMap((section) => section.figures)
  return {
    summary: {
      met: figures.filter((f) => f.met).length,
      total: figures.length,
      missed: [
        ...figures.filter((f) => !f.met).map((f) => f.id),
        ...sections.filter((s) => s.error).map((s) => `${s.name} (failed)`),
      ],
      form,
      machine: {
        cores: cpus().length,
        cpu: cpus()[0]?.model.trim() ?? 'unknown',
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      },
      date: new Date().toISOString(),
      durationSeconds: Math.round(durationSeconds),
    },
    sections,
  }
}
