/**
 * One measured figure of `npm run bench`, as written to bench/results.json: what was measured, its
 * value, its target and whether the target was met. Every section of the benchmark returns these.
 */
export type Target = { op: '<=' | '>='; value: number }

export type Figure = {
  /** Stable key, e.g. `cold-start.v1/health.ratio`. */
  id: string
  /** What was measured, as the README's table shows it. */
  label: string
  value: number
  /** `ms`, `s`, `x`, `%`, `KB`, `MB`, `/s`. */
  unit: string
  target: Target
  met: boolean
  /** The conditions of the measurement (inputs, latencies, repetitions). */
  how: string
}

export function figure(fields: Omit<Figure, 'met'>): Figure {
  const { op, value } = fields.target
  const met = op === '<=' ? fields.value <= value : fields.value >= value
  return { ...fields, met }
}
