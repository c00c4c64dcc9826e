import * as v from 'valibot'
import { decodePem } from '#db/connection.ts'

const url = v.pipe(v.string(), v.trim(), v.url())
const positive = v.pipe(v.string(), v.trim(), v.toNumber(), v.integer(), v.minValue(1))
const nonEmpty = v.pipe(v.string(), v.trim(), v.nonEmpty())
const commaList = v.pipe(
  v.string(),
  v.transform((raw) =>
    raw
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter(Boolean),
  ),
)
// Addresses and domains compared with what Google sends: plain ASCII only, checked before the
// list is lower-cased (which would turn the Kelvin sign U+212A into a `k`).
const asciiCommaList = v.pipe(v.string(), v.regex(/^[\x20-\x7e]*$/), commaList)
const hexDigests = v.pipe(
  commaList,
  v.check((items) => items.every((item) => /^[0-9a-f]{64}$/.test(item))),
)
// A secret of at least 32 bytes (UTF-8), the minimum for HS256.
const secret = v.pipe(
  v.string(),
  v.check((value) => Buffer.byteLength(value, 'utf8') >= 32),
)
// A DigitalOcean namespace access key as its id and secret joined by a colon (HTTP Basic).
const accessKey = v.pipe(v.string(), v.trim(), v.regex(/^[^\s:]+:\S+$/))
// PEMs travel through doctl's ${VAR} substitution: accept them plain, with literal \n, or base64.
const pem = v.pipe(
  v.string(),
  v.transform(decodePem),
  v.check((text) => text.includes('-----BEGIN')),
)

// Every variable the functions read. Values arrive as strings; conversions and defaults live here.
// APP_ENV has no default: a deployed function gets the literal `production` from project.yml and
// the local server sets `development` itself, so a blank one is a mistake, never development.
const Env = v.object({
  APP_ENV: v.picklist(['production', 'development', 'test']),
  APP_VERSION: v.optional(nonEmpty),
  LOG_LEVEL: v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'silent']), 'info'),
  DATABASE_URL: url,
  DATABASE_CA_CERT: v.optional(pem),
  DB_POOL_MAX: v.optional(positive, '1'),
  JWT_SECRET_KEY: secret,
  JWT_SECRET_KEY_PREVIOUS: v.optional(secret),
  JWT_TTL_HOURS: v.optional(positive, '24'),
  GOOGLE_CLIENT_ID: nonEmpty,
  GOOGLE_JWKS_URL: v.optional(url, 'https://www.googleapis.com/oauth2/v3/certs'),
  ALLOWED_EMAIL_DOMAINS: v.pipe(
    asciiCommaList,
    v.check((items) => items.length > 0),
  ),
  // Blank: every allowed domain; `none`: no domain is a Workspace domain.
  WORKSPACE_DOMAINS: v.optional(asciiCommaList),
  ADMIN_EMAILS: v.optional(asciiCommaList, ''),
  ADMIN_API_KEY_SHA256: v.optional(hexDigests, ''),
  MONITOR_TOKEN_SHA256: v.optional(hexDigests, ''),
  UPSTASH_REDIS_REST_URL: v.optional(url),
  UPSTASH_REDIS_REST_TOKEN: v.optional(nonEmpty),
  RATE_LIMIT_TIMEOUT_MS: v.optional(positive, '1000'),
  WEB_BASE_URL: v.optional(url),
  JIRA_BASE_URL: v.optional(url),
  JIRA_EMAIL: v.optional(v.pipe(v.string(), v.trim(), v.email())),
  JIRA_API_TOKEN: v.optional(nonEmpty),
  TEMPO_BASE_URL: v.optional(url, 'https://api.tempo.io'),
  TEMPO_API_TOKEN: v.optional(nonEmpty),
  PINECONE_API_KEY: v.optional(nonEmpty),
  PINECONE_INDEX_HOST: v.optional(url),
  PINECONE_NAMESPACE: v.optional(v.string(), ''),
  PINECONE_EMBED_MODEL: v.optional(nonEmpty, 'llama-text-embed-v2'),
  PINECONE_CONTROLLER_URL: v.optional(url, 'https://api.pinecone.io'),
  JOB_RETENTION_DAYS: v.optional(positive, '7'),
  FUNCTIONS_ACCESS_KEY: v.optional(accessKey),
  WORKERS_MAX: v.optional(v.pipe(positive, v.maxValue(100)), '4'),
})

type Env = v.InferOutput<typeof Env>

// Outside production these may be missing (the sandbox fills them); in production each is required.
const REQUIRED_IN_PRODUCTION = [
  'UPSTASH_REDIS_REST_URL',
  'UPSTASH_REDIS_REST_TOKEN',
  'WEB_BASE_URL',
  'JIRA_BASE_URL',
  'JIRA_EMAIL',
  'JIRA_API_TOKEN',
  'TEMPO_API_TOKEN',
  'PINECONE_API_KEY',
  'PINECONE_INDEX_HOST',
] as const satisfies readonly (keyof Env)[]

/** One variable the functions read, and whether a production deployment must supply it. */
export type Setting = { name: string; requiredInProduction: boolean }

/**
 * Every variable of the schema, in its order: required in production when the schema has no
 * default for it or production requires it. `npm run deploy` and the tests derive project.yml's
 * environment and the README's table from this list (README, "Configuration").
 */
export const SETTINGS: readonly Setting[] = Object.entries(Env.entries).map(([name, schema]) => ({
  name,
  requiredInProduction:
    schema.type !== 'optional' || (REQUIRED_IN_PRODUCTION as readonly string[]).includes(name),
}))

export type Config = ReturnType<typeof toConfig>

/** The environment is incomplete or malformed. The message names variables, never values. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  /** The missing or invalid variables. */
  readonly variables: readonly string[]

  constructor(variables: readonly string[], message?: string) {
    super(message ?? `Missing or invalid environment variables: ${variables.join(', ')}`)
    this.variables = variables
  }
}

/**
 * Validates `env` (only entry points pass `process.env`) into one frozen `Config`.
 * @throws {ConfigError} naming every missing or invalid variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // Blank values count as unset, so `NAME=` in a .env file means "use the default".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value?.trim()))
  const result = v.safeParse(Env, present, { abortEarly: false })
  // In production, name the variables it additionally requires in the same message.
  const missingForProduction =
    present.APP_ENV?.trim() === 'production'
      ? REQUIRED_IN_PRODUCTION.filter((name) => present[name] === undefined)
      : []
  if (!result.success || missingForProduction.length > 0) {
    // Names only: valibot's messages quote the received value, which may be a secret.
    const invalid = result.success ? [] : result.issues.map((issue) => v.getDotPath(issue) ?? '?')
    const names = new Set([...invalid, ...missingForProduction])
    throw new ConfigError([...names])
  }
  const output = result.output
  // A Workspace domain that may not sign in at all is a typo, not a policy.
  const workspace = output.WORKSPACE_DOMAINS ?? []
  if (
    workspace.some((domain) => domain !== 'none' && !output.ALLOWED_EMAIL_DOMAINS.includes(domain))
  ) {
    throw new ConfigError(['WORKSPACE_DOMAINS'])
  }
  return toConfig(output)
}

// `WORKSPACE_DOMAINS` as the list it means: blank is every allowed domain, `none` is none.
function workspaceDomainsOf(env: Env): readonly string[] {
  const listed = env.WORKSPACE_DOMAINS
  if (listed === undefined || listed.length === 0) {
    return env.ALLOWED_EMAIL_DOMAINS
  }
  return listed.filter((domain) => domain !== 'none')
}

function optionalGroup<T>(values: Record<string, unknown>, build: () => T): T | undefined {
  return Object.values(values).every((value) => value !== undefined) ? build() : undefined
}

function toConfig(env: Env) {
  const jira = optionalGroup(
    { url: env.JIRA_BASE_URL, email: env.JIRA_EMAIL, token: env.JIRA_API_TOKEN },
    () => ({
      baseUrl: (env.JIRA_BASE_URL as string).replace(/\/+$/, ''),
      email: env.JIRA_EMAIL as string,
      apiToken: env.JIRA_API_TOKEN as string,
    }),
  )
  const tempo = optionalGroup({ token: env.TEMPO_API_TOKEN }, () => ({
    baseUrl: env.TEMPO_BASE_URL.replace(/\/+$/, ''),
    apiToken: env.TEMPO_API_TOKEN as string,
  }))
  const pinecone = optionalGroup(
    { key: env.PINECONE_API_KEY, host: env.PINECONE_INDEX_HOST },
    () => ({
      apiKey: env.PINECONE_API_KEY as string,
      indexHost: (env.PINECONE_INDEX_HOST as string).replace(/\/+$/, ''),
      namespace: env.PINECONE_NAMESPACE,
      embedModel: env.PINECONE_EMBED_MODEL,
      controllerUrl: env.PINECONE_CONTROLLER_URL.replace(/\/+$/, ''),
    }),
  )
  const upstash = optionalGroup(
    { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN },
    () => ({
      url: env.UPSTASH_REDIS_REST_URL as string,
      token: env.UPSTASH_REDIS_REST_TOKEN as string,
    }),
  )
  return Object.freeze({
    env: env.APP_ENV,
    isProduction: env.APP_ENV === 'production',
    version: env.APP_VERSION ?? 'dev',
    logLevel: env.LOG_LEVEL,
    database: { url: env.DATABASE_URL, caCert: env.DATABASE_CA_CERT, poolMax: env.DB_POOL_MAX },
    auth: {
      jwtSecret: env.JWT_SECRET_KEY,
      jwtPreviousSecret: env.JWT_SECRET_KEY_PREVIOUS,
      tokenTtlHours: env.JWT_TTL_HOURS,
      googleClientId: env.GOOGLE_CLIENT_ID,
      googleJwksUrl: env.GOOGLE_JWKS_URL,
      allowedEmailDomains: env.ALLOWED_EMAIL_DOMAINS,
      /** domains on Google Workspace: their accounts must carry `hd` (README, "Sign-in and sessions") */
      workspaceDomains: workspaceDomainsOf(env),
      adminEmails: env.ADMIN_EMAILS,
      adminKeyDigests: env.ADMIN_API_KEY_SHA256,
      /** digests of the tokens uptime monitors send as `X-Monitor-Token` for `v1/health?deep=1` */
      monitorTokenDigests: env.MONITOR_TOKEN_SHA256,
    },
    rateLimit: { upstash, timeoutMs: env.RATE_LIMIT_TIMEOUT_MS },
    web: { baseUrl: env.WEB_BASE_URL?.replace(/\/+$/, '') },
    jira,
    tempo,
    pinecone,
    jobs: { retentionDays: env.JOB_RETENTION_DAYS, failedRetentionDays: 30 },
    /** asking for worker runs at once (docs/ARCHITECTURE.md, "The job engine") */
    workers: { accessKey: env.FUNCTIONS_ACCESS_KEY, max: env.WORKERS_MAX },
  })
}
