// The API fuzzer in the soak's long form (`--fuzz-requests N`): fuzz/fuzzer.ts runs beside the
// chaos against the same stack, and its 5xx answers and other broken rules count against the
// soak's targets. Its before-and-after state comparison cannot hold while the chaos changes the
// data, so it is off here; its answer oracles all apply.
import { runFuzz } from '#fuzz/fuzzer.ts'
import type { Violation } from '#fuzz/oracles.ts'

/** What the soak hands a fuzzer. */
export type FuzzOptions = {
  /** `http://127.0.0.1:<port>/api/v1/web/local` */
  baseUrl: string
  /** an admin key the stack accepts (a principal of the fuzzer's own) */
  adminKey: string
  /** the stack's database, its Redis (when any) and its JWT secret, to sign tokens with */
  databaseUrl: string
  redisUrl: string | undefined
  jwtSecret: string
  /** mints Google ID tokens the stack accepts */
  google: (email: string) => Promise<string>
  /** how many requests to send */
  requests: number
  seed: number
  /** aborted when the soak stops early (SIGINT) */
  signal: AbortSignal
}

/** What a fuzzer reports back. */
export type FuzzReport = {
  requests: number
  /** answers ≥ 500 (target 0), but for the 503s of an outage the soak made */
  serverErrors: number
  /** 503s of an outage the soak made: UNAVAILABLE, or a deep health check's report */
  unavailable: number
  /** any other broken rule (a 4xx without the error envelope, a refused request that changed state) */
  violations: number
  examples: string[]
}

export type Fuzzer = (options: FuzzOptions) => Promise<FuzzReport>

// A 503 with the UNAVAILABLE envelope, or a deep health check's 503 report, is the answer the
// functions give by design while the soak holds PostgreSQL down or an upstream fails: the soak
// counts them apart, as it does its own clients' 503s during a restart.
function isUnavailable(v: Violation): boolean {
  return (
    v.kind === 'server-error' &&
    v.status === 503 &&
    (v.detail.includes('"code":"UNAVAILABLE"') || v.detail.startsWith('{"status":"degraded"'))
  )
}

/** The fuzzer the soak runs with `--fuzz-requests`. */
export const fuzzer: Fuzzer = async (options) => {
  // Every violation as found (the report keeps only the first ones).
  const unavailable: Violation[] = []
  const broken: Violation[] = []
  const report = await runFuzz({
    requests: options.requests,
    seed: options.seed,
    url: options.baseUrl,
    databaseUrl: options.databaseUrl,
    redisUrl: options.redisUrl,
    secret: options.jwtSecret,
    adminKey: options.adminKey,
    google: options.google,
    compareState: false,
    signal: options.signal,
    onViolation: (v) => (isUnavailable(v) ? unavailable : broken).push(v),
  })
  const serverErrors = broken.filter((v) => v.kind === 'server-error').length
  return {
    requests: report.requestsWithFollowUps,
    serverErrors,
    unavailable: unavailable.length,
    violations: broken.length - serverErrors,
    examples: broken.slice(0, 5).map((v) => `${v.kind} ${v.status} ${v.request}: ${v.detail}`),
  }
}
