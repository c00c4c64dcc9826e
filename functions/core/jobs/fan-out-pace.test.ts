import { randomUUID } from 'node:crypto'
import { beforeEach, describe, expect, it } from 'vitest'
import { createPacer, type PaceBudget, type Pacer } from '#core/rate-limit/pacer.ts'
import { createUpstashRedis } from '#core/rate-limit/upstash-client.ts'
import { useTestDatabase } from '#test/database.ts'
import { captureLog } from '#test/log.ts'
import { useUpstashBridge } from '#test/redis.ts'
import { runWorker, type WorkerSummary } from './engine.ts'
import { createJobQueue } from './queue.ts'
import { createJobRegistry, defineJobKind } from './registry.ts'
import { createWorkerPool, type WorkerKicker } from './workers.ts'

// However many workers the fan-out starts, calls to one upstream stay within its one budget: each
// worker (a container of its own, with its own REST client) paces through the shared Upstash
// store (docs/ARCHITECTURE.md, "Rate limits and pacing").

const getDatabase = useTestDatabase({ poolMax: 12 })
const { redisAvailable, bridge } = useUpstashBridge()
const BUDGET: PaceBudget = { limit: 5, windowMs: 250 }
const CAP = 4

beforeEach(async () => {
  await getDatabase().pool.query('DELETE FROM worker_slots')
})

type Scope = { key: string; pages: number }

describe.skipIf(!redisAvailable)('fan-out under the shared pacer', () => {
  it(`${CAP} workers at once start at most ${BUDGET.limit} calls in any ${BUDGET.windowMs} ms`, async () => {
    const kindName = `paced-${randomUUID()}`
    const prefix = `pace-${randomUUID()}`
    const grants: Array<{ worker: number; atMs: number }> = []
    let workers = 0

    // One worker run: its own pacer over the shared store, and a kind that asks it before a call.
    function aWorker(): Promise<WorkerSummary> {
      workers += 1
      const worker = workers
      const pacer: Pacer = createPacer({
        redis: createUpstashRedis({ url: bridge().url, token: bridge().token }),
        budgets: { upstream: BUDGET },
        prefix,
        onGrant: (_, atMs) => grants.push({ worker, atMs }),
      })
      const kind = defineJobKind<{ scopes: Scope[] }, Scope, { page: number }>({
        kind: kindName,
        plan: async (params) => params.scopes,
        async *run({ scope, cursor, signal }) {
          for (let page = cursor?.page ?? 0; page < scope.pages; page++) {
            await pacer.acquire('upstream', signal)
            yield { kind: 'page', cursor: { page: page + 1 }, fetched: 1, written: 1 }
          }
        },
      })
      return runWorker({
        jobs: createJobQueue(getDatabase().pool),
        registry: createJobRegistry([kind]),
        log: captureLog().log,
        remainingMs: () => 60_000,
        marginMs: 1_000,
        workers: createWorkerPool(getDatabase().pool, { max: CAP }),
        kicker,
      })
    }
    const runs: Promise<WorkerSummary>[] = []
    const kicker: WorkerKicker = {
      enabled: true,
      kick: async () => {
        runs.push(aWorker())
        return true
      },
    }
    const scopes = Array.from({ length: 12 }, (_, n) => ({ key: `w${n}`, pages: 4 }))
    await createJobQueue(getDatabase().pool).enqueue({
      kind: kindName,
      params: { scopes },
      scopes,
      createdBy: 'test',
    })

    const first = await aWorker()
    for (let n = 0; n < runs.length; n += 1) {
      await runs[n]
    }
    const summaries = [first, ...(await Promise.all(runs))]
    expect(summaries.reduce((sum, summary) => sum + summary.pages, 0)).toBe(48)
    expect(grants).toHaveLength(48)
    // Several workers made calls, side by side.
    expect(new Set(grants.map((grant) => grant.worker)).size).toBeGreaterThan(1)
    // In any window, at most the budget: the call `limit` places later starts a window later.
    const instants = grants.map((grant) => grant.atMs).sort((a, b) => a - b)
    for (let n = 0; n + BUDGET.limit < instants.length; n += 1) {
      const later = instants[n + BUDGET.limit] ?? Number.POSITIVE_INFINITY
      expect(later - (instants[n] ?? 0)).toBeGreaterThanOrEqual(BUDGET.windowMs)
    }
  })
})
