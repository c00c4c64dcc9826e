// What a fuzz run needs from where it sends its requests (fuzz/world-in-process.ts,
// fuzz/world-http.ts): a target, credentials, client addresses, a state probe.
import { randomBytes } from 'node:crypto'
import type { Credentials } from './credentials.ts'
import type { StateProbe } from './state.ts'
import type { Target } from './targets.ts'

/** Everything a run needs from where it sends its requests. */
export type World = {
  target: Target
  credentials: Credentials
  /** client addresses, one per request in turn (many, so per-address limits rarely trip) */
  addresses: string[]
  /** undefined when the world's database is out of reach (a server at a URL without DATABASE_URL) */
  state: StateProbe | undefined
  /** what the report says about the world */
  notes: string[]
  close(): Promise<void>
}

export type WorldOptions = {
  /** a PostgreSQL server where the run may create its database (DATABASE_URL) */
  databaseUrl: string
  /** Redis behind the Upstash bridge (REDIS_URL); without it, limits are counted in process */
  redisUrl?: string | undefined
  /** addresses to spread requests over */
  addressCount: number
  /** admins to make (each has its own budget of backfill starts) */
  admins: number
  logLevel?: string
}

/** Bytes of a run's JWT secret. */
export const SECRET_BYTES = 48
/**
 * The limiter's wait for its store (`RATE_LIMIT_TIMEOUT_MS`): 10 s instead of 1 s, so a loaded
 * machine does not turn sign-ins and starts into the 503 a slow store gets (fail closed), which
 * test/limits-concurrency.test.ts covers; the fuzzer is after the functions' own answers.
 */
export const RATE_LIMIT_TIMEOUT_MS = '10000'

/** The front end's origin the run configures (CORS). */
export const WEB_BASE_URL = 'https://pm.example.com'

// IPv4 in a random /16 of 10/8, with every eighth an IPv6 /64 (counted by its /64).
export function addressPool(count: number, loopback: boolean): string[] {
  const [a = 1, b = 1] = randomBytes(2)
  return Array.from({ length: count }, (_, n) => {
    const c = (n >> 8) & 0xff
    const d = n & 0xff || 1
    if (loopback) {
      return `127.${1 + (a % 250)}.${c}.${d}`
    }
    return n % 8 === 7 ? `2001:db8:${a.toString(16)}:${n.toString(16)}::1` : `10.${b}.${c}.${d}`
  })
}
