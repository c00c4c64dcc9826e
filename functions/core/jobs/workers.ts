// How many workers run at once, and what they see ahead in the queue: the worker slots that bound
// the fan-out and the look-ahead that lets a worker wait in place (docs/ARCHITECTURE.md, "The job
// engine"). Every time is the database's now(), shared by workers on every machine.
import { randomUUID } from 'node:crypto'
import type { PoolLike } from '#core/db/client.ts'

type Queryable = Pick<PoolLike, 'query'>

/** Asks the platform for one more worker run now; resolves within its bound and never throws. */
export type WorkerKicker = {
  /** Whether asking is configured at all; when not, `kick` asks nothing and resolves false. */
  readonly enabled: boolean
  /** Resolves true when the platform accepted the invocation. */
  kick(): Promise<boolean>
}

/** A kicker that never asks: the workers then come from the cron alone. */
export const NO_KICKER: WorkerKicker = { enabled: false, kick: async () => false }

/** A slot held by one worker run. */
export type SlotHold = { slot: number; holder: string }

/** A reservation keeps a slot for a worker asked for this long, then it is free again. */
export const RESERVATION_MS = 15_000

// The interval of `$n` milliseconds.
const ms = (n: number) => `make_interval(secs => $${n}::float8 / 1000)`

// Slots 1..$1 exist (the cap is a setting, so rows are added when it grows).
const ENSURE_SLOTS = `
  INSERT INTO worker_slots (slot) SELECT generate_series(1, $1::int) ON CONFLICT DO NOTHING`

// A slot for this run until its deadline: one reserved for a worker asked for first (this may be
// it), else a free one (never used, released, or held past its holder's deadline). The lock is
// taken on the row's latest version, which is checked again (READ COMMITTED), so two runs never
// hold one slot.
const ACQUIRE = `
  UPDATE worker_slots s SET holder = $2::uuid, expires_at = now() + ${ms(3)}
  WHERE s.slot = (
    SELECT w.slot FROM worker_slots w
    WHERE w.slot <= $1 AND (w.holder IS NULL OR w.expires_at <= now())
    ORDER BY w.expires_at > now() DESC, w.slot
    LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING s.slot`

// Up to $2 free slots reserved for workers about to be asked for.
const RESERVE = `
  UPDATE worker_slots s SET holder = NULL, expires_at = now() + ${ms(3)}
  WHERE s.slot = ANY(ARRAY(
    SELECT w.slot FROM worker_slots w
    WHERE w.slot <= $1 AND w.expires_at <= now()
    ORDER BY w.slot
    LIMIT $2 FOR UPDATE SKIP LOCKED))
  RETURNING s.slot`

const RELEASE = `
  UPDATE worker_slots SET holder = NULL, expires_at = '-infinity'
  WHERE slot = $1 AND holder = $2::uuid`

// Chunk c is due for a worker of kinds $1: its job active and not being cancelled (as the claim).
const CLAIMABLE = `c.queued AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = c.job_id
    AND j.kind = ANY($1::text[]) AND j.status IN ('queued', 'running')
    AND j.cancel_requested_at IS NULL)`

const COUNT_DUE = `
  SELECT count(*)::int AS due FROM (
    SELECT 1 FROM job_chunks c WHERE c.run_after <= now() AND ${CLAIMABLE} LIMIT $2) d`

const NEXT_DUE = `
  SELECT extract(epoch FROM min(c.run_after) - now())::float8 * 1000 AS wait_ms
  FROM job_chunks c WHERE c.run_after <= now() + ${ms(2)} AND ${CLAIMABLE}`

/**
 * The worker slots (at most `max` runs hold one at a time) and the queue's look-ahead.
 * @example const workers = createWorkerPool(pool, { max: 4 }); const hold = await workers.acquire(60_000)
 */
export function createWorkerPool(pool: Queryable, options: { max: number }) {
  const { max } = options
  let ensured = false
  async function ensureSlots() {
    if (!ensured) {
      await pool.query(ENSURE_SLOTS, [max])
      ensured = true
    }
  }
  return {
    /** The most workers that run at once while workers are asked for (`WORKERS_MAX`). */
    max,
    /** A slot until `forMs` from now (the run's deadline), or undefined when all are taken. */
    async acquire(forMs: number): Promise<SlotHold | undefined> {
      await ensureSlots()
      const holder = randomUUID()
      const result = await pool.query<{ slot: number }>(ACQUIRE, [max, holder, forMs])
      const [row] = result.rows
      return row ? { slot: row.slot, holder } : undefined
    },
    /** Reserves up to `wanted` free slots for workers about to be asked for; how many it got. */
    async reserve(wanted: number): Promise<number> {
      await ensureSlots()
      const result = await pool.query(RESERVE, [max, wanted, RESERVATION_MS])
      return result.rowCount ?? 0
    },
    async release(hold: SlotHold): Promise<void> {
      await pool.query(RELEASE, [hold.slot, hold.holder])
    },
    /** Queued chunks of these kinds due now, counted up to `limit`. */
    async countDue(kinds: readonly string[], limit: number): Promise<number> {
      const result = await pool.query<{ due: number }>(COUNT_DUE, [kinds, limit])
      return result.rows[0]?.due ?? 0
    },
    /** Milliseconds until the next chunk of these kinds is due, if one is within `withinMs`. */
    async nextDueInMs(kinds: readonly string[], withinMs: number): Promise<number | undefined> {
      const result = await pool.query<{ wait_ms: number | null }>(NEXT_DUE, [kinds, withinMs])
      const waitMs = result.rows[0]?.wait_ms
      return waitMs === null || waitMs === undefined ? undefined : Math.max(0, Math.ceil(waitMs))
    },
  }
}

export type WorkerPool = ReturnType<typeof createWorkerPool>
