// The state a refused request must leave as it was: every table of the database, and the Redis
// keys other than the counters that count attempts by design (README, "Fuzzing").
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import pg from 'pg'

/** Per table (and `redis`): row count and a digest of the rows. */
export type Snapshot = Record<string, string>

/** Takes snapshots of a world's state. */
export type StateProbe = { snapshot(): Promise<Snapshot>; close(): Promise<void> }

const TABLES = [
  'users',
  'projects',
  'jobs',
  'job_chunks',
  'sync_state',
  'tempo_worklogs',
  'jira_issue_keys',
  'jira_users',
]

// The rate limiter's counters (`agent-pm:rl:…`) and the pacer's call slots (`agent-pm:pace:{…}:slots`)
// count every attempt and every upstream call, refused or not; a pause (`…:paused`) is state.
const COUNTER = /^agent-pm:(rl:|pace:.*:slots$)/

/** Differences between two snapshots, as `table: before → after`. */
export function changes(before: Snapshot, after: Snapshot): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)])
  return [...names]
    .filter((name) => before[name] !== after[name])
    .map((name) => `${name}: ${before[name] ?? '∅'} → ${after[name] ?? '∅'}`)
}

/** Snapshots of `databaseUrl`'s tables and, with `redisUrl`, of its Redis keys. */
export function stateProbe(options: {
  databaseUrl: string
  redisUrl?: string | undefined
}): StateProbe {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 1 })
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, { maxRetriesPerRequest: 1 })
    : undefined
  // Every insert and update writes a new row version (a new `xmin` and `ctid`) and a delete removes
  // one, so a sum over them changes with any write, at a fraction of the cost of hashing the rows.
  const query = TABLES.map(
    (table) =>
      `select '${table}' as name, count(*)::text || ' rows ' || coalesce(sum(hashtext(xmin::text || ':' || ctid::text))::text, '-') as digest from ${table}`,
  ).join(' union all ')

  return {
    async snapshot() {
      const snapshot: Snapshot = {}
      for (const row of (await pool.query<{ name: string; digest: string }>(query)).rows) {
        snapshot[row.name] = row.digest
      }
      if (redis) {
        const keys = (await redis.keys('*')).filter((key) => !COUNTER.test(key)).sort()
        for (const key of keys) {
          const dumped = await redis.dumpBuffer(key)
          snapshot[`redis ${key}`] = dumped ? createHash('sha1').update(dumped).digest('hex') : '-'
        }
      }
      return snapshot
    },
    async close() {
      await pool.end()
      redis?.disconnect()
    },
  }
}
