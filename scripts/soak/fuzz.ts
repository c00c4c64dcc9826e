// Where an API fuzzer plugs into the soak's long form (`--fuzz-requests N`): it runs beside the
// chaos against the same stack, and its 5xx answers count against the soak's targets. To plug one
// in, import it here as `fuzzer` (for `runFuzz` of fuzz/fuzzer.ts, an adapter passing `url`,
// `databaseUrl`, `redisUrl`, `secret` and `adminKey`; its before-and-after state comparison cannot
// hold while the chaos changes the data, so only its 5xx and envelope verdicts apply here).

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

/** The fuzzer the soak runs with `--fuzz-requests`; none is plugged in yet. */
export const fuzzer: Fuzzer | undefined = undefined
