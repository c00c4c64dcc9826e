// The short form of `npm run bench` (tiny sizes): every section runs and produces figures of the
// shape bench/results.json promises. Durations and targets are never asserted here.
import { cpus } from 'node:os'
import { describe, expect, inject, it } from 'vitest'
import { benchTable } from './readme.ts'
import { parseArgs, runBench } from './run.ts'
import { SECTIONS } from './sections.ts'

const UNITS = ['ms', 's', 'x', '%', 'KB', 'MB', '/s']

describe('npm run bench -- --quick', () => {
  it('runs every section and writes figures of the promised shape', async () => {
    const lines: string[] = []
    const results = await runBench({
      quick: true,
      databaseUrl: inject('databaseUrl'),
      say: (line) => lines.push(line),
    })
    const log = lines.join('\n')
    expect(
      results.sections.map((s) => [s.name, s.error ?? 'ok']),
      log,
    ).toEqual(SECTIONS.map((s) => [s.name, 'ok']))
    const figures = results.sections.flatMap((s) => s.figures)
    for (const section of results.sections) {
      expect(section.figures.length, section.name).toBeGreaterThan(0)
    }
    expect(new Set(figures.map((f) => f.id)).size).toBe(figures.length)
    for (const f of figures) {
      expect(Number.isFinite(f.value), `${f.id}: ${f.value}`).toBe(true)
      expect(UNITS, f.id).toContain(f.unit)
      expect(['<=', '>='], f.id).toContain(f.target.op)
      expect(f.met, f.id).toBe(
        f.target.op === '<=' ? f.value <= f.target.value : f.value >= f.target.value,
      )
      expect(f.label.length, f.id).toBeGreaterThan(0)
      expect(f.how.length, f.id).toBeGreaterThan(20)
    }
    const { summary } = results
    expect(summary.total).toBe(figures.length)
    expect(summary.met).toBe(figures.filter((f) => f.met).length)
    expect(summary.missed).toEqual(figures.filter((f) => !f.met).map((f) => f.id))
    expect(summary.form).toBe('quick')
    expect(summary.machine.cores).toBe(cpus().length)
    expect(summary.machine.node).toBe(process.version)
    // Each section said where it was, and the table has a row per figure.
    for (const [n, section] of SECTIONS.entries()) {
      expect(log).toContain(`[${n + 1}/${SECTIONS.length}] ${section.title}`)
    }
    expect(
      benchTable(results)
        .split('\n')
        .filter((l) => l.startsWith('| ') && !l.startsWith('| figure') && !l.startsWith('| ---')),
    ).toHaveLength(figures.length)
  }, 240_000)
})

describe('bench arguments', () => {
  it('reads --quick, --only (repeated or comma-separated) and --out', () => {
    expect(
      parseArgs(['--quick', '--only', 'claims,memory', '--only', 'bound', '--out', 'x.json']),
    ).toEqual({
      quick: true,
      only: ['claims', 'memory', 'bound'],
      out: 'x.json',
    })
    expect(parseArgs([])).toEqual({ quick: false, only: [], out: undefined })
  })

  it('refuses an unknown argument and an option without its value', () => {
    expect(parseArgs(['--fast'])).toEqual({ error: 'unknown argument --fast' })
    expect(parseArgs(['--only'])).toEqual({ error: '--only needs a value' })
    expect(parseArgs(['--out', '--quick'])).toEqual({ error: '--out needs a value' })
  })

  it('refuses an unknown section before running anything', async () => {
    const lines: string[] = []
    await expect(
      runBench({
        quick: true,
        only: ['nope'],
        databaseUrl: inject('databaseUrl'),
        say: (l) => lines.push(l),
      }),
    ).rejects.toThrow(/unknown section nope: one of claims, bound/)
    expect(lines).toEqual([])
  })
})
