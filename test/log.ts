import { Writable } from 'node:stream'
import { createLogger, type Logger } from '#core/log.ts'

/** The real logger writing into an array, to assert what was (and was not) logged. */
export function captureLog(level = 'debug'): {
  log: Logger
  lines: Array<Record<string, unknown>>
  text: () => string
} {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      }
      done()
    },
  })
  return {
    log: createLogger({ level, stream }),
    lines,
    text: () => lines.map((line) => JSON.stringify(line)).join('\n'),
  }
}
