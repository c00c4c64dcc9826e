import { type Auth, createAuth } from '#core/auth/service.ts'
import { createDatabase, type Database, type PoolLike } from '#core/db/client.ts'
import { createWorkerKicker, type PlatformRuntime } from '#core/functions-api.ts'
import { createJobQueue, type JobQueue } from '#core/jobs/queue.ts'
import { createWorkerPool, type WorkerKicker, type WorkerPool } from '#core/jobs/workers.ts'
import { createRateLimiter } from '#core/rate-limit/limiter.ts'
import { createPacer, type Pacer } from '#core/rate-limit/pacer.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { createUpstashRedis } from '#core/rate-limit/upstash-client.ts'
import type { JiraClient } from '#core/upstreams/jira/client.ts'
import { PACE_BUDGETS } from '#core/upstreams/pace-budgets.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import type { TempoClient } from '#core/upstreams/tempo/client.ts'
import { type Clock, systemClock } from './clock.ts'
import type { Config } from './config.ts'
import { createLogger, type Logger } from './log.ts'
import type { Upstreams } from './upstream-clients.ts'

/** Everything a handler or job may use; each handler declares the slice it needs. */
export type Services = {
  config: Config
  log: Logger
  clock: Clock
  db: Database
  pool: PoolLike
  /** The Postgres job queue: enqueue, progress, cancel, resume (functions/core/jobs/queue.ts). */
  jobs: JobQueue
  /** The worker slots and the queue's look-ahead (fan-out, waiting in place). */
  workers: WorkerPool
  /** Asks DigitalOcean for a `jobs/worker` run now; asks nothing without FUNCTIONS_ACCESS_KEY. */
  kicker: WorkerKicker
  rateLimiter: RateLimiter
  /** Shared outbound pace per upstream (Jira, Tempo, Pinecone): `await pacer.acquire('jira', signal)`. */
  pacer: Pacer
  auth: Auth
  /** Jira Cloud; `undefined` when JIRA_* settings are missing (jobs then fail with a clear message). */
  jira: JiraClient | undefined
  /** The Pinecone index; `undefined` when PINECONE_* settings are missing. */
  pinecone: PineconeSink | undefined
  /** Tempo Cloud; `undefined` when TEMPO_API_TOKEN is missing (jobs then fail with a clear message). */
  tempo: TempoClient | undefined
}

/** The function a kick invokes (project.yml). */
const WORKER_ACTION = 'jobs/worker'

/** Replacements for external seams (tests pass their own database, logger, clock, limiter). */
export type Seams = Partial<Services>

/** What an entry adds: functions that call Jira, Tempo or Pinecone pass `createUpstreams`. */
export type ServiceOptions = {
  /** Builds the upstream clients; left out, they are `undefined` and their SDKs stay out of the bundle. */
  upstreams?: (config: Config, pacer: Pacer) => Upstreams
  /** The runtime's API host and namespace, read at each kick (`runtimeOf(process.env)`). */
  runtime?: () => PlatformRuntime
}

/**
 * The single composition root, called once per warm container by entries and by test/services.ts.
 * Nothing connects here: the pool opens its connection on the first query.
 */
export function createServices(
  config: Config,
  seams: Seams = {},
  options: ServiceOptions = {},
): Services {
  const log = seams.log ?? createLogger({ level: config.logLevel })
  const clock = seams.clock ?? systemClock
  const database =
    seams.db && seams.pool
      ? { db: seams.db, pool: seams.pool }
      : createDatabase(config.database, (err) =>
          log.warn({ err }, 'idle database connection failed'),
        )
  // One Upstash REST client per container, shared by the limiter and the pacer (none without settings).
  const upstash = config.rateLimit.upstash
  const redis = upstash && createUpstashRedis(upstash)
  const rateLimiter = seams.rateLimiter ?? createRateLimiter(config, { log, clock, redis })
  const pacer =
    seams.pacer ??
    createPacer({ redis, clock, log, timeoutMs: config.rateLimit.timeoutMs, budgets: PACE_BUDGETS })
  // Built once per warm container: it holds Google's cached key set.
  const auth = seams.auth ?? createAuth({ config, db: database.db, clock, log })
  const jobs = seams.jobs ?? createJobQueue(database.pool)
  const workers = seams.workers ?? createWorkerPool(database.pool, { max: config.workers.max })
  const kicker =
    seams.kicker ??
    createWorkerKicker({
      accessKey: config.workers.accessKey,
      action: WORKER_ACTION,
      runtime: options.runtime ?? (() => ({})),
      log,
    })
  const built = options.upstreams?.(config, pacer)
  const jira = 'jira' in seams ? seams.jira : built?.jira
  const pinecone = 'pinecone' in seams ? seams.pinecone : built?.pinecone
  const tempo = 'tempo' in seams ? seams.tempo : built?.tempo
  return {
    config,
    log,
    clock,
    ...database,
    jobs,
    workers,
    kicker,
    rateLimiter,
    pacer,
    auth,
    jira,
    pinecone,
    tempo,
  }
}
