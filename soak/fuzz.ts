// The API fuzzer in the soak's long form (`--fuzz-requests N`): fuzz/fuzzer.ts runs beside the
// chaos against the same stack, and its 5xx answers and other broken rules count against the
// soak's targets. Its before-and-after state comparison cannot hold while the chaos changes the
// data, so it is off here; its answer oracles all apply.
import { runFuzz } from '#fuzz/fuzzer.ts'

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
  /** how many requests to send */
  requests: number
  seed: number
  /** aborted when the soak stops early (SIGINT) */
  signal: AbortSignal
}

/** What a fuzzer reports back. */
export type FuzzReport = {
  requests: number
  /** answers ≥ 500 (target 0) */
  serverErrors: number
  /** any other broken rule (a 4xx without the error envelope, a refused request that changed state) */
  violations: number
  examples: string[]
}

export type Fuzzer = (options: FuzzOptions) => Promise<FuzzReport>

/** The fuzzer the soak runs with `--fuzz-requests`. */
export const fuzzer: Fuzzer = async (options) => {
  const report = await runFuzz({
    requests: options.requests,
    seed: options.seed,
    url: options.baseUrl,
    databaseUrl: options.databaseUrl,
    redisUrl: options.redisUrl,
    secret: options.jwtSecret,
    adminKey: options.adminKey,
    compareState: false,
    signal: options.signal,
  })
  const serverErrors = report.violations.filter((v) => v.kind === 'server-error').length
  return {
    requests: report.requestsWithFollowUps,
    serverErrors,
    violations: report.violations.length - serverErrors,
    examples: report.violations.slice(0, 5).map((v) => `${v.kind} ${v.status} ${v.request}`),
  }
}
