import { randomBytes } from 'node:crypto'
import { setTimeout as sleepFor } from 'node:timers/promises'
import { type Clock, systemClock } from '#core/clock.ts'
import type { Logger } from '#core/log.ts'
import type { UpstashRedis } from './upstash-client.ts'

/**
 * Outbound pacing (docs/ARCHITECTURE.md, "Rate limits and pacing"): every worker calling an
 * upstream reserves a slot from one shared budget first, and after an upstream 429 one worker sets
 * a shared "paused until" that every acquirer honours. Terminology: a *budget* is at most `limit`
 * call starts in any `windowMs` (a sliding window, so bursts across window edges are bounded too);
 * a *slot* is one call start, reserved at the earliest instant the budget allows after every slot
 * reserved before it, so callers go in the order they asked (no caller is passed over again and
 * again, and a waiting caller asks the store once, not once per wake-up); a *pause* holds every
 * acquirer of that upstream until an epoch-ms instant.
 */

/** At most `limit` calls may start in any `windowMs` milliseconds. */
export type PaceBudget = { limit: number; windowMs: number }

/**
 * The longest a pause may hold an upstream: 5 minutes. A `Retry-After` beyond it (a far-future
 * date, a misread header) would otherwise stall every worker; after the cap, the next 429 pauses
 * again.
 */
export const MAX_PAUSE_MS = 5 * 60_000

/** Shared outbound pacing; `services.pacer`. */
export type Pacer = {
  /**
   * Resolves when a call to `upstream` may start: within its budget and after any shared pause.
   * Call it right before each request (each retry too).
   * @throws the signal's reason (an `AbortError` by default) when `signal` aborts while waiting
   * @example await deps.pacer.acquire('upstream', AbortSignal.timeout(remainingMs))
   */
  acquire(upstream: string, signal?: AbortSignal): Promise<void>
  /**
   * Holds every acquirer of `upstream`, in every container, until `untilMs` (epoch ms), e.g. now
   * plus a 429's `Retry-After`, capped at now plus `MAX_PAUSE_MS`. Never shortens a longer pause
   * already set.
   * @example await deps.pacer.pauseUntil('upstream', Date.now() + retryAfterSeconds * 1000)
   */
  pauseUntil(upstream: string, untilMs: number): Promise<void>
  /** The shared pause's end (epoch ms), or 0 when none: a job may release its chunk instead of waiting. */
  pausedUntil(upstream: string): Promise<number>
}

/** The state of the in-process twin; share one between pacers to model workers of one store. */
export type PaceMemory = {
  /** reserved slots per upstream: instants (epoch ms, ascending) and their names */
  slots: Map<string, Array<{ atMs: number; slot: string }>>
  pauses: Map<string, number>
}

/** The part of the Upstash client the pacer uses. */
export type PaceRedis = Pick<UpstashRedis, 'eval'>

/** Where the pacer keeps its state: the shared Upstash Redis, or this process's memory. */
export type PacerOptions = {
  /** The shared store; without it the pacer is in-process only. */
  redis?: PaceRedis | undefined
  /** The in-process state (the twin, and the fallback while the shared store fails). */
  memory?: PaceMemory
  clock?: Clock
  log?: Logger
  /** The budget of each upstream by name; acquiring for a name without one is a wiring mistake. */
  budgets: Readonly<Record<string, PaceBudget>>
  /** How long one store call may take before this process paces alone (default 1000 ms). */
  timeoutMs?: number
  /** Key prefix in Redis (default `agent-pm:pace`). */
  prefix?: string
  /** Waits `ms` (tests with a fixed clock move it instead); must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Called with each granted slot's instant (epoch ms) as the store reserved it: metrics, tests. */
  onGrant?: (upstream: string, atMs: number) => void
}

// A store reserves a slot (its instant, epoch ms, and a name to give it back by), or answers how
// long a pause holds the upstream before asking again.
type Taken = { slotAtMs: number; slot: string } | { pausedForMs: number }

type PaceStore = {
  take(upstream: string, budget: PaceBudget, nowMs: number): Promise<Taken>
  /** Gives back a reserved slot its caller will not use (it gave up waiting). */
  release(upstream: string, slot: string): Promise<void>
  pause(upstream: string, untilMs: number, nowMs: number): Promise<void>
  pausedUntil(upstream: string, nowMs: number): Promise<number>
}

/**
 * The slot after `reserved` (instants, ascending): now, or later when an earlier reservation is
 * later, or when the `limit`-th latest reservation is less than a window before.
 */
function nextSlot(reserved: readonly number[], budget: PaceBudget, nowMs: number): number {
  const last = reserved.at(-1) ?? nowMs
  const limiting = reserved.at(-budget.limit)
  const freed = limiting === undefined ? nowMs : limiting + budget.windowMs
  return Math.max(nowMs, last, freed)
}

// After a store failure, this process paces alone for this long before trying the store again.
const DEGRADED_MS = 30_000

/** An empty in-process pace state. */
export function createPaceMemory(): PaceMemory {
  return { slots: new Map(), pauses: new Map() }
}

function memoryStore(memory: PaceMemory): PaceStore {
  let named = 0
  return {
    async take(upstream, budget, nowMs) {
      const paused = memory.pauses.get(upstream) ?? 0
      if (paused > nowMs) {
        return { pausedForMs: paused - nowMs }
      }
      // Slots more than two windows old limit nothing (the Redis store keeps the same).
      const reserved = (memory.slots.get(upstream) ?? []).filter(
        (entry) => entry.atMs > nowMs - 2 * budget.windowMs,
      )
      const atMs = nextSlot(
        reserved.map((entry) => entry.atMs),
        budget,
        nowMs,
      )
      named += 1
      const slot = `${atMs}:${named}`
      reserved.push({ atMs, slot })
      memory.slots.set(upstream, reserved)
      return { slotAtMs: atMs, slot }
    },
    async release(upstream, slot) {
      const reserved = memory.slots.get(upstream) ?? []
      memory.slots.set(
        upstream,
        reserved.filter((entry) => entry.slot !== slot),
      )
    },
    async pause(upstream, untilMs) {
      memory.pauses.set(upstream, Math.max(memory.pauses.get(upstream) ?? 0, untilMs))
    },
    async pausedUntil(upstream, nowMs) {
      const paused = memory.pauses.get(upstream) ?? 0
      return paused > nowMs ? paused : 0
    },
  }
}

// One round trip per reservation: the pause check, the sliding-window arithmetic of `nextSlot` and
// the reservation are atomic. Slots are kept for two windows past their instant, so one reserved
// by a container whose clock runs a little ahead still limits the others. Returns
// `{0, ms}` (paused: ask again in ms) or `{1, instant}` (reserved).
const TAKE = `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return {0, paused - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 2 * window)
local at = now
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] and tonumber(last[2]) > at then
  at = tonumber(last[2])
end
local limiting = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
if redis.call('ZCARD', KEYS[1]) >= limit and tonumber(limiting[2]) + window > at then
  at = tonumber(limiting[2]) + window
end
redis.call('ZADD', KEYS[1], at, ARGV[4])
redis.call('PEXPIRE', KEYS[1], at - now + 2 * window + 1000)
return {1, at}
`

const RELEASE = "return redis.call('ZREM', KEYS[1], ARGV[1])"

// Sets the pause unless a later one is already set; it expires by itself when it ends.
const PAUSE = `
local untilMs = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > current and untilMs > now then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', untilMs - now)
end
return 0
`

// A script rather than GET keeps the pacer's Redis surface to EVAL alone.
const READ_PAUSE = "return tonumber(redis.call('GET', KEYS[1]) or '0')"

function redisStore(redis: PaceRedis, prefix: string): PaceStore {
  // A hash tag keeps both keys of an upstream in one cluster slot, as one script requires.
  const slotsKey = (upstream: string) => `${prefix}:{${upstream}}:slots`
  const pausedKey = (upstream: string) => `${prefix}:{${upstream}}:paused`
  return {
    async take(upstream, budget, nowMs) {
      const slot = `${nowMs}:${randomBytes(6).toString('hex')}`
      const keys = [slotsKey(upstream), pausedKey(upstream)]
      const answer = await redis.eval(TAKE, keys, [nowMs, budget.limit, budget.windowMs, slot])
      const [reserved, ms] = Array.isArray(answer) ? answer.map(Number) : []
      if (ms === undefined || !Number.isFinite(ms)) {
        throw new Error('the pace store answered a reservation with an unexpected shape')
      }
      return reserved === 1 ? { slotAtMs: ms, slot } : { pausedForMs: ms }
    },
    async release(upstream, slot) {
      await redis.eval(RELEASE, [slotsKey(upstream)], [slot])
    },
    async pause(upstream, untilMs, nowMs) {
      await redis.eval(PAUSE, [pausedKey(upstream)], [Math.ceil(untilMs), nowMs])
    },
    async pausedUntil(upstream, nowMs) {
      const paused = Number(await redis.eval(READ_PAUSE, [pausedKey(upstream)], []))
      return paused > nowMs ? paused : 0
    },
  }
}

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`pace store did not answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Creates a pacer over the shared Upstash Redis (`{ redis }`) or over this process's memory
 * (`{ memory }` or nothing: development without Upstash, where one process is all there is).
 * When the store fails or is slow, this process paces alone with the same budgets for 30 s and
 * logs it once: calls go on, and the upstreams' own 429s (honoured through `pauseUntil`) cover
 * the difference. A pause is always recorded locally too.
 * @example
 * const pacer = createPacer({ redis, clock, log, budgets: { upstream: { limit: 4, windowMs: 1000 } } })
 * await pacer.acquire('upstream', signal)
 */
export function createPacer(options: PacerOptions): Pacer {
  const clock = options.clock ?? systemClock
  const timeoutMs = options.timeoutMs ?? 1000
  const sleep =
    options.sleep ??
    ((ms: number, signal?: AbortSignal) => sleepFor(ms, undefined, signal ? { signal } : {}))
  const local = memoryStore(options.memory ?? createPaceMemory())
  const shared = options.redis
    ? redisStore(options.redis, options.prefix ?? 'agent-pm:pace')
    : undefined
  let degradedUntil = 0

  // The shared store's answer, or the local one while the shared store is failing.
  async function use<T>(call: (store: PaceStore, nowMs: number) => Promise<T>): Promise<T> {
    const nowMs = clock.now().getTime()
    if (!shared || nowMs < degradedUntil) {
      return call(local, nowMs)
    }
    try {
      return await within(timeoutMs, call(shared, nowMs))
    } catch (err) {
      degradedUntil = nowMs + DEGRADED_MS
      options.log?.warn({ err }, 'pace store unavailable; pacing in this process only for 30 s')
      return call(local, clock.now().getTime())
    }
  }

  async function pausedUntil(upstream: string): Promise<number> {
    const nowMs = clock.now().getTime()
    const [own, store] = await Promise.all([
      local.pausedUntil(upstream, nowMs),
      use((s, at) => s.pausedUntil(upstream, at)),
    ])
    return Math.max(own, store)
  }

  // A slot its caller will not use goes back, so that it holds nobody else up; when the store
  // does not answer, the slot merely stays unused.
  async function giveBack(store: PaceStore, upstream: string, slot: string): Promise<void> {
    try {
      await within(timeoutMs, store.release(upstream, slot))
    } catch {
      // nothing more to do: an unused slot limits for one window at most
    }
  }

  return {
    async acquire(upstream, signal) {
      const budget = options.budgets[upstream]
      if (!budget) {
        throw new Error(`No pace budget is set for ${upstream}.`)
      }
      for (;;) {
        signal?.throwIfAborted()
        const nowMs = clock.now().getTime()
        // The local pause first: it costs no round trip, and holds even while the store is down.
        const localPause = await local.pausedUntil(upstream, nowMs)
        if (localPause > 0) {
          await sleep(localPause - nowMs, signal)
          continue
        }
        let store = local
        let askedAt = nowMs
        const taken = await use((chosen, at) => {
          store = chosen
          askedAt = at
          return chosen.take(upstream, budget, at)
        })
        if ('pausedForMs' in taken) {
          await sleep(taken.pausedForMs, signal)
          continue
        }
        const waitMs = taken.slotAtMs - askedAt
        if (waitMs > 0) {
          try {
            await sleep(waitMs, signal)
          } catch (err) {
            await giveBack(store, upstream, taken.slot)
            throw err
          }
          // A pause set while this caller waited for its slot holds it too.
          if ((await pausedUntil(upstream)) > 0) {
            continue
          }
        }
        options.onGrant?.(upstream, taken.slotAtMs)
        return
      }
    },
    async pauseUntil(upstream, untilMs) {
      const nowMs = clock.now().getTime()
      const cappedMs = Math.min(untilMs, nowMs + MAX_PAUSE_MS)
      await local.pause(upstream, cappedMs, nowMs)
      if (shared) {
        await use((store, at) => store.pause(upstream, cappedMs, at))
      }
    },
    pausedUntil,
  }
}
