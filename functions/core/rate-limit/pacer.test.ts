import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { fixedClock } from '#test/clock.ts'
import { captureLog } from '#test/log.ts'
import { useUpstashBridge } from '#test/redis.ts'
import {
  createPaceMemory,
  createPacer,
  MAX_PAUSE_MS,
  type PaceRedis,
  type Pacer,
  type PacerOptions,
} from './pacer.ts'
import { createUpstashRedis } from './upstash-client.ts'

const { redisAvailable, bridge } = useUpstashBridge()

const WINDOW_MS = 200
const BUDGET = { limit: 4, windowMs: WINDOW_MS }
const budgets = { jira: BUDGET, tempo: BUDGET, pinecone: BUDGET }

const START = '2026-06-01T12:00:00.000Z'
const T0 = Date.parse(START)

/**
 * Time that moves only when every task waits: once each task started with `run` (or held with
 * `hold`) is asleep, the earliest sleeper wakes and the clock jumps to its end. Store calls take
 * real time but no clock time, so what a test sees is exact: which call starts at which instant,
 * and how long each asked to wait.
 */
function virtualTime() {
  const clock = fixedClock(START)
  const waits: number[] = []
  const sleepers: Array<{ at: number; order: number; wake: () => void }> = []
  let active = 0
  let order = 0

  function settle() {
    if (active === 0 || sleepers.length < active) {
      return
    }
    sleepers.sort((a, b) => a.at - b.at || a.order - b.order)
    const next = sleepers.shift()
    if (next) {
      clock.set(new Date(Math.max(next.at, clock.now().getTime())))
      next.wake()
    }
  }

  function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    waits.push(ms)
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      const entry = {
        at: clock.now().getTime() + ms,
        order: order++,
        wake: () => {
          signal?.removeEventListener('abort', abort)
          resolve()
        },
      }
      function abort() {
        sleepers.splice(sleepers.indexOf(entry), 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', abort, { once: true })
      sleepers.push(entry)
      settle()
    })
  }

  async function run<T>(work: () => Promise<T>): Promise<T> {
    active += 1
    try {
      return await work()
    } finally {
      active -= 1
      settle()
    }
  }

  /** Keeps time still until the returned function is called (a test acting meanwhile). */
  function hold(): () => void {
    active += 1
    return () => {
      active -= 1
      settle()
    }
  }

  return { clock, sleep, waits, run, hold, sleeping: () => sleepers.length }
}

type VirtualTime = ReturnType<typeof virtualTime>

/** `pacer` takes the whole budget of `upstream` (4 slots), one call after another. */
function takeBudget(time: VirtualTime, pacer: Pacer, upstream: string): Promise<void> {
  return time.run(async () => {
    for (let n = 0; n < BUDGET.limit; n++) {
      await pacer.acquire(upstream)
    }
  })
}

/** Waits, in real time, until `condition` holds (a sleeper registered, a reply landed). */
async function until(condition: () => boolean): Promise<void> {
  for (let n = 0; !condition(); n++) {
    if (n > 5000) {
      throw new Error('condition never held')
    }
    await sleep(n < 100 ? 0 : 5)
  }
}

/** Grants per instant, in ms from T0: `{ 0: 4, 200: 4 }`. */
function grantsPerInstant(stamps: number[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const stamp of stamps) {
    counts[stamp - T0] = (counts[stamp - T0] ?? 0) + 1
  }
  return counts
}

/**
 * Two pacers over one store, as two workers in two containers would have, on `time`'s clock and
 * sleep; `onGrant` goes to both, to see the instants the store stamped on the slots it granted.
 */
type Workers = (time: VirtualTime, onGrant?: PacerOptions['onGrant']) => { pacers: [Pacer, Pacer] }

/** The behaviour every pacer store must have; run below for the in-process twin and for Upstash. */
function pacesAcrossWorkers(workers: Workers) {
  it('never lets two workers start more than the budget in any window', async () => {
    const time = virtualTime()
    const stamps: number[] = []
    const [a, b] = workers(time, (_, atMs) => stamps.push(atMs)).pacers
    // Three concurrent callers per worker, eight calls each: 48 calls at 4 per 200 ms.
    const caller = (pacer: Pacer) =>
      time.run(async () => {
        for (let n = 0; n < 8; n++) {
          await pacer.acquire('jira')
        }
      })
    await Promise.all([a, a, a, b, b, b].map(caller))
    // Unshared budgets would put 8 at the start. Each refusal waits for the oldest slot to leave
    // the window, not a whole window more: 12 instants, one window apart, 4 starts each.
    expect(grantsPerInstant(stamps)).toEqual(
      Object.fromEntries(Array.from({ length: 12 }, (_, n) => [n * WINDOW_MS, 4])),
    )
  })

  it('waits only until the oldest slot leaves the window', async () => {
    const time = virtualTime()
    const stamps: number[] = []
    const [a, b] = workers(time, (_, atMs) => stamps.push(atMs)).pacers
    await takeBudget(time, a, 'tempo')
    time.clock.advance(150)
    await time.run(() => b.acquire('tempo'))
    // Not a whole window after asking (which would be 150 + 200 ms).
    expect(time.waits).toEqual([50])
    expect(grantsPerInstant(stamps)).toEqual({ 0: 4, 200: 1 })
  })

  it('reserves slots in the order callers ask, each at the earliest instant the budget allows', async () => {
    const time = virtualTime()
    const [a, b] = workers(time).pacers
    const grantedAt: number[] = []
    const release = time.hold()
    const calls: Promise<void>[] = []
    for (let n = 0; n < 10; n++) {
      calls.push(
        time.run(async () => {
          await (n % 2 === 0 ? a : b).acquire('jira')
          grantedAt[n] = time.clock.now().getTime() - T0
        }),
      )
      // One at a time: the next asks once this one is granted or asleep until its slot.
      await until(() => grantedAt.filter((at) => at !== undefined).length + time.sleeping() > n)
    }
    release()
    await Promise.all(calls)
    expect(grantedAt).toEqual([0, 0, 0, 0, 200, 200, 200, 200, 400, 400])
  })

  it('holds a caller waiting for its slot when a pause is set meanwhile', async () => {
    const time = virtualTime()
    const stamps: number[] = []
    const [a, b] = workers(time, (_, atMs) => stamps.push(atMs)).pacers
    await takeBudget(time, a, 'tempo')
    const release = time.hold()
    const waiting = time.run(() => b.acquire('tempo'))
    await until(() => time.sleeping() === 1) // its slot is at 200
    await a.pauseUntil('tempo', T0 + 500)
    release()
    await waiting
    expect(time.waits).toEqual([WINDOW_MS, 300])
    expect(grantsPerInstant(stamps)).toEqual({ 0: 4, 500: 1 })
  })

  it('holds every worker until a pause set by one of them ends, and never shortens it', async () => {
    const time = virtualTime()
    const [a, b] = workers(time).pacers
    const until = T0 + 300
    await a.pauseUntil('tempo', until)
    await a.pauseUntil('tempo', T0 + 50) // shorter: ignored
    expect(await b.pausedUntil('tempo')).toBe(until)
    await time.run(() => b.acquire('pinecone')) // other upstreams go on
    expect(time.waits).toEqual([])
    await time.run(() => b.acquire('tempo'))
    expect(time.waits).toEqual([300])
    expect(time.clock.now().getTime()).toBe(until)
    expect(await b.pausedUntil('tempo')).toBe(0)
  })

  it('caps a pause at MAX_PAUSE_MS for every worker, however far Retry-After points', async () => {
    const time = virtualTime()
    const [a, b] = workers(time).pacers
    await a.pauseUntil('jira', Date.parse('2999-01-01T00:00:00Z'))
    expect(await b.pausedUntil('jira')).toBe(T0 + MAX_PAUSE_MS)
  })

  it('stops waiting out a pause as soon as the signal aborts', async () => {
    const time = virtualTime()
    const [a, b] = workers(time).pacers
    await a.pauseUntil('tempo', T0 + 60_000)
    const release = time.hold()
    const aborting = new AbortController()
    const waiting = time.run(() => b.acquire('tempo', aborting.signal))
    await until(() => time.sleeping() === 1)
    aborting.abort()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' })
    release()
    // It asked to wait out the pause, and left while no time had passed.
    expect(time.waits).toEqual([60_000])
    expect(time.clock.now().getTime()).toBe(T0)
  })

  it('gives up waiting when the signal aborts, without taking a slot', async () => {
    const time = virtualTime()
    const stamps: number[] = []
    const [a, b] = workers(time, (_, atMs) => stamps.push(atMs)).pacers
    await takeBudget(time, a, 'pinecone')
    const release = time.hold()
    const aborting = new AbortController()
    const waiting = time.run(() => b.acquire('pinecone', aborting.signal))
    await until(() => time.sleeping() === 1)
    aborting.abort()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' })
    release()
    expect(time.waits).toEqual([WINDOW_MS])
    // After the window, the full budget is there: the aborted call took nothing.
    time.clock.advance(WINDOW_MS)
    await takeBudget(time, b, 'pinecone')
    expect(time.waits).toEqual([WINDOW_MS])
    expect(grantsPerInstant(stamps)).toEqual({ 0: 4, [WINDOW_MS]: 4 })
  })
}

/** A pacer on a fixed clock whose sleeps record their length and advance the clock instead. */
function sleeplessPacer() {
  const clock = fixedClock()
  const waits: number[] = []
  const pacer = createPacer({
    clock,
    budgets,
    sleep: async (ms) => {
      waits.push(ms)
      clock.advance(ms)
    },
  })
  return { clock, waits, pacer }
}

describe('pacer, in-process twin', () => {
  pacesAcrossWorkers((time, onGrant) => {
    const memory = createPaceMemory()
    const worker = () =>
      createPacer({
        memory,
        budgets,
        clock: time.clock,
        sleep: time.sleep,
        ...(onGrant && { onGrant }),
      })
    return { pacers: [worker(), worker()] }
  })

  it('stops its own sleep when the signal aborts, before the pause ends', async () => {
    const pacer = createPacer({ budgets })
    await pacer.pauseUntil('tempo', Date.now() + 60_000)
    await expect(pacer.acquire('tempo', AbortSignal.timeout(20))).rejects.toMatchObject({
      name: 'AbortError',
    })
    // The pause still holds: the call left before it ended, not after.
    expect(await pacer.pausedUntil('tempo')).toBeGreaterThan(Date.now())
  })

  it('waits exactly until the oldest slot leaves the window, or the pause ends', async () => {
    const { clock, waits, pacer } = sleeplessPacer()
    for (let n = 0; n < 4; n++) {
      await pacer.acquire('jira')
      clock.advance(10)
    }
    await pacer.acquire('jira') // the first slot (t = 0) frees at t = 200; now is t = 40
    expect(waits).toEqual([160])
    await pacer.pauseUntil('jira', clock.now().getTime() + 1500)
    await pacer.acquire('jira')
    expect(waits).toEqual([160, 1500])
  })

  it('waits out at most MAX_PAUSE_MS (5 minutes) after a far-future Retry-After', async () => {
    const { clock, waits, pacer } = sleeplessPacer()
    await pacer.pauseUntil('jira', clock.now().getTime() + 365 * 24 * 3_600_000)
    await pacer.acquire('jira')
    expect(MAX_PAUSE_MS).toBe(5 * 60_000)
    expect(waits).toEqual([MAX_PAUSE_MS])
  })

  it('refuses to pace an upstream it has no budget for (a wiring mistake)', async () => {
    const { pacer } = sleeplessPacer()
    await expect(pacer.acquire('unbudgeted')).rejects.toThrow(/no pace budget/i)
  })
})

describe.skipIf(!redisAvailable)('pacer over Upstash (through the bridge)', () => {
  afterEach(() => {
    bridge().setDelay(0)
    bridge().failNext(500, 0)
  })

  // Each test gets its own keys; each worker its own REST client, as separate containers would.
  const options = (prefix: string, extra: Partial<PacerOptions> = {}): PacerOptions => ({
    redis: createUpstashRedis({ url: bridge().url, token: bridge().token }),
    budgets,
    prefix,
    ...extra,
  })

  pacesAcrossWorkers((time, onGrant) => {
    const prefix = `pace-${randomUUID()}`
    const worker = () =>
      createPacer(
        options(prefix, { clock: time.clock, sleep: time.sleep, ...(onGrant && { onGrant }) }),
      )
    return { pacers: [worker(), worker()] }
  })

  it('asks the store for a slot once per call, however long the caller waits for it', async () => {
    const time = virtualTime()
    const prefix = `pace-${randomUUID()}`
    let reservations = 0
    const worker = () => {
      const redis = createUpstashRedis({ url: bridge().url, token: bridge().token })
      const counting: PaceRedis = {
        eval: (script, keys, args) => {
          reservations += script.includes('ZADD') ? 1 : 0
          return redis.eval(script, keys, args)
        },
      }
      return createPacer({ redis: counting, budgets, prefix, clock: time.clock, sleep: time.sleep })
    }
    const [a, b] = [worker(), worker()]
    // Six callers, eight calls each: most wait, some several windows.
    await Promise.all(
      [a, a, a, b, b, b].map((pacer) =>
        time.run(async () => {
          for (let n = 0; n < 8; n++) {
            await pacer.acquire('jira')
          }
        }),
      ),
    )
    expect(reservations).toBe(48)
    expect(time.clock.now().getTime() - T0).toBe(11 * WINDOW_MS)
  })

  it('paces alone, and says so once, when the store fails', async () => {
    const { log, lines, text } = captureLog()
    const time = virtualTime()
    const stamps: number[] = []
    const pacer = createPacer(
      options(`pace-${randomUUID()}`, {
        log,
        clock: time.clock,
        sleep: time.sleep,
        onGrant: (_, atMs) => stamps.push(atMs),
      }),
    )
    bridge().failNext(500)
    bridge().setDelay(80) // a slow failure: the local slot must be stamped after it, not before
    const before = bridge().requests.length
    const first = time.run(() => pacer.acquire('jira'))
    await until(() => bridge().requests.length > before)
    time.clock.advance(80) // the store's failure takes 80 ms to arrive
    await first
    const after = bridge().requests.length
    await takeBudget(time, pacer, 'jira')
    // The local budget still applies: the fifth call waits a whole window after the first
    // slot, which was stamped when the failure arrived (t = 80), not when the call began.
    expect(time.waits).toEqual([WINDOW_MS])
    expect(grantsPerInstant(stamps)).toEqual({ 80: 4, [80 + WINDOW_MS]: 1 })
    expect(bridge().requests.length).toBe(after) // no retrying the store meanwhile
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1)
    expect(text()).toContain('pace store unavailable')
    expect(text()).not.toContain(bridge().token)
  })

  it('does not hang on a slow store: it paces alone before the store answers', async () => {
    const { log, lines } = captureLog()
    const pacer = createPacer(options(`pace-${randomUUID()}`, { timeoutMs: 100, log }))
    bridge().setDelay(1000)
    const before = bridge().requests.length
    await pacer.acquire('tempo')
    const sent = bridge().requests.slice(before)
    // Granted while the store's reply was still on its way.
    expect(sent.map((request) => request.status)).toEqual([undefined])
    expect(lines.map((line) => line.msg)).toEqual([
      'pace store unavailable; pacing in this process only for 30 s',
    ])
    await until(() => sent[0]?.status !== undefined) // the late reply lands before the next test
  })
})
