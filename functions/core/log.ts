import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino'

/** The structured logger every module receives (pino's, narrowed to what we use). */
export type Logger = Pick<
  PinoLogger,
  'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'child'
>

// Keys whose values are secrets wherever they appear (pino's redact paths are per depth).
const SECRET_KEYS = [
  'authorization',
  'x-admin-key',
  'cookie',
  'credential',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'apiToken',
  'api_key',
  'password',
  'secret',
  'jwtSecret',
  'jwtPreviousSecret',
]

function redactPaths(): string[] {
  const paths: string[] = []
  for (const key of SECRET_KEYS) {
    const segment = /^[A-Za-z_]\w*$/.test(key) ? key : `["${key}"]`
    const join = (prefix: string) =>
      segment.startsWith('[') ? `${prefix}${segment}` : `${prefix}.${segment}`
    paths.push(segment.startsWith('[') ? segment : key, join('*'), join('*.*'), join('*.*.*'))
  }
  return paths
}

// Messages of some clients quote what they sent (Upstash: "command was: [...]"); cut that off,
// and mask anything that looks like a bearer or basic credential or a JWT.
function scrub(text: string): string {
  return text
    .replace(/command was:[\s\S]*$/i, 'command was: [redacted]')
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [redacted]')
    .replace(/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]')
}

function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>
  if (!serialized || typeof serialized !== 'object') {
    return serialized
  }
  for (const key of ['message', 'stack']) {
    if (typeof serialized[key] === 'string') {
      serialized[key] = scrub(serialized[key] as string)
    }
  }
  return serialized
}

/**
 * A pino logger with secret redaction. Synchronous to stdout by default (a function's container
 * may freeze right after it answers, so nothing may wait in a buffer).
 * @example const log = createLogger({ level: 'info' })
 */
export function createLogger(options: { level?: string; stream?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: null,
      redact: { paths: redactPaths(), censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.stream ?? pino.destination({ sync: true }),
  )
}
