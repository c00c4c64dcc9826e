// Five-field numeric cron (minute hour day-of-month month day-of-week), as DigitalOcean accepts.
const RANGES: Array<[number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
]

function fieldMatches(field: string, value: number, [min, max]: [number, number]): boolean {
  return field.split(',').some((part) => {
    const [range = '*', stepText] = part.split('/')
    const step = stepText ? Number(stepText) : 1
    const [from, to] =
      range === '*'
        ? [min, max]
        : range.includes('-')
          ? range.split('-').map(Number)
          : [Number(range), Number(range)]
    if (from === undefined || to === undefined) {
      return false
    }
    return value >= from && value <= to && (value - from) % step === 0
  })
}

/** Whether `cron` fires at the minute of `date` (UTC). */
export function cronMatches(cron: string, date: Date): boolean {
  const fields = cron.trim().split(/\s+/)
  const values = [
    date.getUTCMinutes(),
    date.getUTCHours(),
    date.getUTCDate(),
    date.getUTCMonth() + 1,
    date.getUTCDay(),
  ]
  return (
    fields.length === 5 &&
    fields.every((field, index) =>
      fieldMatches(field, values[index] ?? -1, RANGES[index] ?? [0, 0]),
    )
  )
}
