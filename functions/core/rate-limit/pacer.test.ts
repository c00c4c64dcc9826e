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
  type Pacer,
  type PacerOptions,
} from './pacer.ts'
import { createUpstashRedis } from './upstash-client.ts'

const { redisAvailable, bridge } = useUpstashBridge()

const WINDOW_MS = 200
const BUDGET = { limit: 4, windowMs: WINDOW_MS }
const budgets = { jira: BUDGET, tempo: BUDGET, pinecone: BUDGET }

/**
 * Two pacers over one store, as two workers in two containers would have; `onGrant` goes to
 * both, to see the instants the store stamped on the slots it granted.
 */
type Workers = (onGrant?: PacerOptions['onGrant']) => { pacers: [Pacer, Pacer] }

/** The largest number of instants inside any half-open span of `spanMs`. */
function busiestSpan(instants: number[], spanMs: number): number {
  const sorted = [...instants].sort((a, b) => a - b)
  let most = 0
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i] as number
    most = Math.max(most, sorted.filter((t) => t >= start && t < start + spanMs).length)
  }
  return most
}

/** The behaviour every pacer store must have; run below for the in-process twin and for Upstash. */
function pacesAcrossWorkers(workers: Workers) {
  it('never lets two workers start more than the budget in any window', async () => {
    const stamps: number[] = []
    const [a, b] = workers((_, atMs) => stamps.push(atMs)).pacers
    // Open both connections first, so the timings below are pacing, not connection set-up.
    await Promise.all([a.pausedUntil('jira'), b.pausedUntil('jira')])
    const started = Date.now()
    // Three concurrent callers per worker, eight calls each: 48 calls at 4 per 200 ms.
    const caller = async (pacer: Pacer) => {
      for (let n = 0; n < 8; n++) {
        await pacer.acquire('jira')
      }
    }
    await Promise.all([a, a, a, b, b, b].map(caller))
    const elapsed = Date.now() - started
    expect(stamps).toHaveLength(48)
    expect(Math.min(...stamps)).toBeGreaterThanOrEqual(started)
    // Unshared budgets would put 8 in the very first window. Each call starts a little after its
    // stamp (a round trip to the store), a jitter pacing cannot remove: hence budgets below the
    // upstreams' own limits.
    expect(busiestSpan(stamps, WINDOW_MS)).toBeLessThanOrEqual(4)
    expect(elapsed).toBeGreaterThanOrEqual((48 / 4 - 1) * WINDOW_MS)
    // Waiting for the oldest slot to free, not a whole window per refusal.
    expect(elapsed).toBeLessThan((48 / 4) * WINDOW_MS * 2)
  })

  it('waits only until the oldest slot leaves the window', async () => {
    const [a, b] = workers().pacers
    await Promise.all([a.pausedUntil('tempo'), b.pausedUntil('tempo')]) // warm connections
    const first = Date.now() // no later than the first slot's stamp
    for (let n = 0; n < 4; n++) {
      await a.acquire('tempo')
    }
    await sleep(150)
    await b.acquire('tempo')
    expect(Date.now() - first).toBeGreaterThanOrEqual(WINDOW_MS)
    // Not a whole window after asking (which would be 150 + 200 ms).
    expect(Date.now() - first).toBeLessThan(WINDOW_MS + 100)
  })

  it('holds every worker until a pause set by one of them ends, and never shortens it', async () => {
    const [a, b] = workers().pacers
    const until = Date.now() + 300
    await a.pauseUntil('tempo', until)
    await a.pauseUntil('tempo', Date.now() + 50) // shorter: ignored
    expect(await b.pausedUntil('tempo')).toBe(until)
    const started = Date.now()
    await b.acquire('pinecone') // other upstreams go on
    expect(Date.now() - started).toBeLessThan(100)
    await b.acquire('tempo')
    expect(Date.now()).toBeGreaterThanOrEqual(until)
    expect(await b.pausedUntil('tempo')).toBe(0)
  })

  it('caps a pause at MAX_PAUSE_MS for every worker, however far Retry-After points', async () => {
    const [a, b] = workers().pacers
    const before = Date.now()
    await a.pauseUntil('jira', Date.parse('2999-01-01T00:00:00Z'))
    const until = await b.pausedUntil('jira')
    expect(until).toBeGreaterThanOrEqual(before + MAX_PAUSE_MS)
    expect(until).toBeLessThanOrEqual(Date.now() + MAX_PAUSE_MS)
  })

  it('stops waiting out a pause as soon as the signal aborts', async () => {
    const [a, b] = workers().pacers
    await a.pauseUntil('tempo', Date.now() + 60_000)
    const started = performance.now()
    await expect(b.acquire('tempo', AbortSignal.timeout(50))).rejects.toMatchObject({
      name: 'AbortError',
    })
    expect(performance.now() - started).toBeLessThan(500)
  })

  it('gives up waiting when the signal aborts, without taking a slot', async () => {
    const [a, b] = workers().pacers
    for (let n = 0; n < 4; n++) {
      await a.acquire('pinecone')
    }
    const started = performance.now()
    await expect(b.acquire('pinecone', AbortSignal.timeout(50))).rejects.toMatchObject({
      name: 'AbortError',
    })
    expect(performance.now() - started).toBeLessThan(WINDOW_MS - 50)
    // After the window, the full budget is there: the aborted call took nothing.
    await sleep(WINDOW_MS + 20)
    const refill = performance.now()
    for (let n = 0; n < 4; n++) {
      await b.acquire('pinecone')
    }
    expect(performance.now() - refill).toBeLessThan(WINDOW_MS / 2)
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
  pacesAcrossWorkers((onGrant) => {
    const memory = createPaceMemory()
    const worker = () => createPacer({ memory, budgets, ...(onGrant && { onGrant }) })
    return { pacers: [worker(), worker()] }
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

  pacesAcrossWorkers((onGrant) => {
    const prefix = `pace-${randomUUID()}`
    const worker = () => createPacer(options(prefix, onGrant && { onGrant }))
    return { pacers: [worker(), worker()] }
  })

  it('paces alone, and says so once, when the store fails', async () => {
    const { log, lines, text } = captureLog()
    const pacer = createPacer(options(`pace-${randomUUID()}`, { log }))
    bridge().failNext(500)
    bridge().setDelay(80) // a slow failure: the local slot must be stamped after it, not before
    await pacer.acquire('jira')
    const firstSlot = Date.now()
    const before = bridge().requests.length
    for (let n = 0; n < 3; n++) {
      await pacer.acquire('jira')
    }
    // The local budget still applies: the fifth call waits for the first slot to free.
    await pacer.acquire('jira')
    expect(Date.now() - firstSlot).toBeGreaterThanOrEqual(WINDOW_MS - 2)
    expect(bridge().requests.length).toBe(before) // no retrying the store meanwhile
    expect(lines.filter((line) => line.level === 'warn')).toHaveLength(1)
    expect(text()).toContain('pace store unavailable')
    expect(text()).not.toContain(bridge().token)
  })

  it('does not hang on a slow store', async () => {
    const pacer = createPacer(options(`pace-${randomUUID()}`, { timeoutMs: 100 }))
    bridge().setDelay(1000)
    const started = performance.now()
    await pacer.acquire('tempo')
    expect(performance.now() - started).toBeLessThan(400)
  })
})
