/**
 * One logging method: fields (an `Error` stands for `{ err }`, its message for the message) and a
 * message, or a message alone.
 */
export type LogFn = {
  (fields: object, message?: string): void
  (message: string): void
}

/** The structured logger every module receives: one JSON line per call. */
export type Logger = {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  /** A logger whose lines all carry `bindings` (redacted like any field). */
  child(bindings: Record<string, unknown>): Logger
}

/** Where lines go (stdout unless a test captures them). */
export type LogStream = { write(line: string): unknown }

// pino's level numbers, kept so that thresholds read the same; lines carry the label.
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const
type Level = keyof typeof LEVELS

const CENSOR = '[redacted]'

// A key names a secret when, lower-cased and stripped of everything but letters and digits, it is
// one of these or ends with one of them: `Authorization`, `x-admin-key`, `Api-Key`, `apiToken`,
// `JWT_SECRET_KEY`, `idToken`, `set-cookie`, `client_secret`, `password`, …
const SECRET_ENDINGS = [
  'authorization',
  'cookie',
  'credential',
  'credentials',
  'token',
  'secret',
  'secretkey',
  'password',
  'passwd',
  'apikey',
  'adminkey',
  'privatekey',
  'monitortoken',
]

/** Whether a field of this name holds a secret, however it is spelled or cased. */
export function isSecretKey(key: string): boolean {
  const folded = key.toLowerCase().replace(/[^a-z0-9]/g, '')
  return SECRET_ENDINGS.some((ending) => folded.endsWith(ending))
}

// Secrets recognisable by their shape, wherever they appear in a line: bearer and basic
// credentials, JWTs, Pinecone keys (`pcsk_…`), Atlassian API tokens (`ATATT…`), our admin keys
// (`apm_…`), the password of a URL (`postgres://user:password@host`). Only token characters are
// replaced, so the JSON of the line stays valid.
const SECRET_SHAPES: ReadonlyArray<[RegExp, string]> = [
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@"]+:)[^/\s@"]+@/gi, `$1${CENSOR}@`],
  [/\b(Bearer|Basic)(\s|%20)+[A-Za-z0-9._~+/=-]+/gi, `$1 ${CENSOR}`],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  [/\bpcsk_[A-Za-z0-9_-]+/g, CENSOR],
  [/\bATATT[A-Za-z0-9_=-]+/g, CENSOR],
  [/\bapm_[A-Za-z0-9_-]{16,}/g, CENSOR],
]

// Messages of some clients quote what they sent (Upstash: "command was: [...]", with keys that
// hold addresses): everything after it, to the end of the JSON string, goes.
const QUOTED_COMMAND = /command was:(?:[^"\\]|\\.)*/gi

/** Masks secrets recognisable by their shape in a text (a message, or a whole JSON log line). */
export function scrubSecrets(text: string): string {
  let out = text.replace(QUOTED_COMMAND, `command was: ${CENSOR}`)
  for (const [shape, replacement] of SECRET_SHAPES) {
    out = out.replace(shape, replacement)
  }
  return out
}

// Beyond this depth nothing is written: what is not printed cannot leak.
const MAX_DEPTH = 12
const MAX_CAUSES = 5

/**
 * An error as a log shows it: its type, message, code (a SQLSTATE, `ECONNREFUSED`, an
 * `AppError` code), stack and the chain of causes, and nothing else. Libraries hang whole
 * objects on their errors (pg its client: connection parameters, buffers, type tables), and
 * fields such as pg's `detail` quote row values.
 */
export function serializeError(err: Error, causes = 0): Record<string, unknown> {
  const code = (err as { code?: unknown }).code
  const out: Record<string, unknown> = {
    type: err.name || err.constructor?.name || 'Error',
    message: String(err.message),
  }
  if (typeof code === 'string' || typeof code === 'number') {
    out.code = code
  }
  if (typeof err.stack === 'string') {
    out.stack = err.stack
  }
  if (err.cause !== undefined && causes < MAX_CAUSES) {
    out.cause =
      err.cause instanceof Error
        ? serializeError(err.cause, causes + 1)
        : redactValue(err.cause, MAX_DEPTH - 2, new WeakSet())
  }
  return out
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * A copy of `value` safe to log: fields named like secrets (any case, any depth) censored, errors
 * reduced by `serializeError`, buffers and class instances (a client, a socket) named rather than
 * dumped, and nothing deeper than a dozen levels.
 */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? String(value) : value
  }
  if (value instanceof Error) {
    return serializeError(value)
  }
  if (value instanceof Date || value instanceof URL) {
    return value
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return `[${value.byteLength} bytes]`
  }
  if (seen.has(value)) {
    return '[circular]'
  }
  if (depth >= MAX_DEPTH) {
    return '[truncated]'
  }
  seen.add(value)
  try {
    if (Array.isArray(value)) {
      return value.map((item) => redactValue(item, depth + 1, seen))
    }
    if (!isPlain(value)) {
      return `[${value.constructor?.name ?? 'object'}]`
    }
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        isSecretKey(key) && item !== undefined ? CENSOR : redactValue(item, depth + 1, seen)
    }
    return out
  } finally {
    seen.delete(value)
  }
}

const redactObject = (object: object) => redactValue(object) as Record<string, unknown>

function loggerWith(bindings: Record<string, unknown>, threshold: number, stream: LogStream) {
  const method = (level: Level): LogFn => {
    if (LEVELS[level] < threshold) {
      return () => {}
    }
    return (first: object | string, message?: string) => {
      const fields =
        typeof first === 'string' ? {} : first instanceof Error ? { err: first } : first
      const msg =
        typeof first === 'string'
          ? first
          : (message ?? (first instanceof Error ? first.message : undefined))
      const line = {
        level,
        time: Date.now(),
        ...bindings,
        ...redactObject(fields),
        ...(msg !== undefined && { msg }),
      }
      // The last word on every line: secrets recognisable by their shape, messages included.
      stream.write(`${scrubSecrets(JSON.stringify(line))}\n`)
    }
  }
  const logger: Logger = {
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    child: (more) => loggerWith({ ...bindings, ...redactObject(more) }, threshold, stream),
  }
  return logger
}

/**
 * A JSON-lines logger that keeps secrets out: fields named like secrets are censored at any depth
 * and in any case, errors keep type, message, code, stack and causes only, and every written line
 * is scrubbed of secrets recognisable by their shape (messages included). Lines are
 * `{ level, time (epoch ms), …bindings, …fields, msg }`, as pino writes them. Written to stdout,
 * which is synchronous for files and pipes on Linux (a function's container may freeze right
 * after it answers, so nothing may wait in a buffer). `level: 'silent'` writes nothing.
 * @example const log = createLogger({ level: 'info' })
 */
export function createLogger(options: { level?: string; stream?: LogStream } = {}): Logger {
  const level = options.level ?? 'info'
  const threshold =
    level === 'silent' ? Number.POSITIVE_INFINITY : (LEVELS[level as Level] ?? LEVELS.info)
  return loggerWith({}, threshold, options.stream ?? process.stdout)
}
