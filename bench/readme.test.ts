import { describe, expect, it } from 'vitest'
import { figure } from './figures.ts'
import { BEGIN, benchTable, END, withBenchTable } from './readme.ts'
import type { BenchResults } from './results.ts'

const results: BenchResults = {
  summary: {
    met: 1,
    total: 2,
    missed: ['b.x'],
    form: 'long',
    machine: { cores: 2, cpu: 'Test CPU', node: 'v22.0.0', platform: 'linux-x64' },
    date: '2026-12-03T14:00:00.000Z',
    durationSeconds: 321,
  },
  sections: [
    {
      name: 'a',
      title: 'A',
      seconds: 1,
      figures: [
        figure({
          id: 'a.x',
          label: 'ratio a',
          value: 1.25,
          unit: 'x',
          target: { op: '>=', value: 1.2 },
          how: 'h',
        }),
      ],
    },
    {
      name: 'b',
      title: 'B',
      seconds: 1,
      figures: [
        figure({
          id: 'b.x',
          label: 'time b',
          value: 61.2,
          unit: 's',
          target: { op: '<=', value: 3 },
          how: 'h',
        }),
      ],
    },
    { name: 'c', title: 'C | D', seconds: 1, figures: [], error: 'boom | bang' },
  ],
}

describe('the README benchmark table', () => {
  it('has a row per figure with its value, target and whether it was met, and a row per failed section', () => {
    expect(benchTable(results).split('\n')).toEqual([
      '1 of 2 targets met, 2026-12-03, 2 cores (Test CPU), Node v22.0.0, 321 s (long form). How each figure was measured: `bench/results.json`, field `how`.',
      '',
      '| figure | measured | target | |',
      '| --- | --- | --- | --- |',
      '| ratio a | 1.25× | ≥ 1.2× | met |',
      '| time b | 61.2 s | ≤ 3 s | **missed** |',
      '| C \\| D | failed: boom \\| bang | | |',
    ])
  })

  it('replaces only the text between the markers', () => {
    const readme = `# T\n\n## Benchmarks\n\nintro\n\n${BEGIN}\nold table\n${END}\n\n## Next\n`
    const updated = withBenchTable(readme, results)
    expect(
      updated.startsWith(`# T\n\n## Benchmarks\n\nintro\n\n${BEGIN}\n1 of 2 targets met`),
    ).toBe(true)
    expect(updated.endsWith(`| failed: boom \\| bang | | |\n${END}\n\n## Next\n`)).toBe(true)
    expect(updated).not.toContain('old table')
    expect(withBenchTable(updated, results)).toBe(updated)
  })

  it('refuses a README without the markers', () => {
    expect(() => withBenchTable('# T\n', results)).toThrow(/no benchmark markers/)
  })
})
