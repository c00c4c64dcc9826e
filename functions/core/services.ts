import { type Auth, createAuth } from './auth/auth.ts'
import { type Clock, systemClock } from './clock.ts'
import type { Config } from './config.ts'
import { createDatabase, type Database, type PoolLike } from './db/client.ts'
import { createJobQueue, type JobQueue } from './jobs/queue.ts'
import { createLogger, type Logger } from './log.ts'
import { createPacer, type Pacer } from './pace.ts'
import type { RateLimiter } from './rate-limit.ts'
import { createRateLimiter } from './rate-limit-store.ts'
import { createUpstashRedis } from './rate-limit-upstash.ts'
import { createJiraClient, type JiraClient } from './upstreams/jira/client.ts'
import { createPineconeSink, type PineconeSink } from './upstreams/pinecone/client.ts'
import { createTempoClient, type TempoClient } from './upstreams/tempo/client.ts'

/** Everything a handler or job may use; each handler declares the slice it needs. */
export type Services = {
  config: Config
  log: Logger
  clock: Clock
  db: Database
  pool: PoolLike
  /** The Postgres job queue: enqueue, progress, cancel, resume (functions/core/jobs/queue.ts). */
  jobs: JobQueue
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

/** Replacements for external seams (tests pass their own database, logger, clock, limiter). */
export type Seams = Partial<Services>

/**
 * The single composition root, called once per warm container by entries and by test/services.ts.
 * Nothing connects here: the pool opens its connection on the first query.
 */
export function createServices(config: Config, seams: Seams = {}): Services {
  const log = seams.log ?? createLogger({ level: config.logLevel })
  const clock = seams.clock ?? systemClock
  const database =
    seams.db && seams.pool ? { db: seams.db, pool: seams.pool } : createDatabase(config.database)
  // One Upstash REST client per container, shared by the limiter and the pacer (none without settings).
  const upstash = config.rateLimit.upstash
  const redis = upstash && createUpstashRedis(upstash)
  const rateLimiter = seams.rateLimiter ?? createRateLimiter(config, { log, clock, redis })
  const pacer =
    seams.pacer ?? createPacer({ redis, clock, log, timeoutMs: config.rateLimit.timeoutMs })
  // Built once per warm container: it holds Google's cached key set.
  const auth = seams.auth ?? createAuth({ config, db: database.db, clock, log })
  const jobs = seams.jobs ?? createJobQueue(database.pool)
  const jira = 'jira' in seams ? seams.jira : createJira(config, pacer)
  const pinecone = 'pinecone' in seams ? seams.pinecone : createPinecone(config, pacer)
  const tempo = 'tempo' in seams ? seams.tempo : createTempo(config, pacer)
  return { config, log, clock, ...database, jobs, rateLimiter, pacer, auth, jira, pinecone, tempo }
}

function createTempo(config: Config, pacer: Pacer): TempoClient | undefined {
  return (
    config.tempo &&
    createTempoClient({
      ...config.tempo,
      pace: (signal) => pacer.acquire('tempo', signal),
      onThrottle: (untilMs) => pacer.pauseUntil('tempo', untilMs),
    })
  )
}

// Built only when configured; each paces through the shared budget and shares a 429's pause.
function createJira(config: Config, pacer: Pacer): JiraClient | undefined {
  return (
    config.jira &&
    createJiraClient({
      ...config.jira,
      pace: (signal) => pacer.acquire('jira', signal),
      onThrottle: (untilMs) => pacer.pauseUntil('jira', untilMs),
    })
  )
}

function createPinecone(config: Config, pacer: Pacer): PineconeSink | undefined {
  return (
    config.pinecone &&
    createPineconeSink({
      ...config.pinecone,
      pace: () => pacer.acquire('pinecone'),
      onThrottle: (untilMs) => pacer.pauseUntil('pinecone', untilMs),
    })
  )
}
