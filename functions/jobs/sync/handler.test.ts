import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { runWorker } from '#core/jobs/engine.ts'
import { createJobRegistry, type DailySync, defineJobKind } from '#core/jobs/registry.ts'
import { scheduledEntry } from '#core/platform/scheduled-entry.ts'
import { fixedClock } from '#test/clock.ts'
import { useTestDatabase } from '#test/database.ts'
import { aContext } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { testServices } from '#test/services.ts'
import { createSyntheticKind, memorySink } from '#test/synthetic-kind.ts'
import { createSyncHandler } from './handler.ts'

const getDatabase = useTestDatabase()

function setup(
  extraSyncs: (name: string) => {
    kinds: ReturnType<typeof defineJobKind>[]
    syncs: DailySync[]
  } = () => ({ kinds: [], syncs: [] }),
) {
  const clock = fixedClock('2026-06-01T06:30:00.000Z')
  const { log, lines } = captureLog()
  const services = testServices({ database: getDatabase(), clock, log })
  const name = `sync-${randomUUID()}`
  const kind = createSyntheticKind({ kind: name, sink: memorySink() })
  const extra = extraSyncs(name)
  const sync: DailySync = {
    kind: name,
    dedupeKey: name,
    params: (day) => ({ scopes: [{ key: `${name}-${day}`, pages: 1, perPage: 1 }] }),
  }
  const registry = createJobRegistry([kind, ...extra.kinds], [sync, ...extra.syncs])
  const main = scheduledEntry({
    name: 'jobs/sync',
    services: () => services,
    handler: (s) => createSyncHandler({ ...s, registry }),
  })
  const work = () =>
    runWorker({ jobs: services.jobs, registry, log, remainingMs: () => 60_000, marginMs: 1_000 })
  return { main, clock, jobs: services.jobs, name, work, lines }
}

describe('jobs/sync', () => {
  describe('happy', () => {
    it('enqueues each daily sync once per UTC day, planned from the day’s params', async () => {
      const { main, clock, jobs, name, work } = setup()
      const first = await main({ trigger: 'sync' }, aContext())
      expect(first).toMatchObject({
        ok: true,
        day: '2026-06-01',
        created: 1,
        existing: 0,
        failed: 0,
      })
      const [job] = await jobs.listJobs({ kind: name, limit: 10 })
      expect(job).toMatchObject({
        status: 'queued',
        params: { scopes: [{ key: `${name}-2026-06-01` }] },
        progress: { chunksTotal: 1 },
      })

      await work()
      clock.advance(3_600_000)
      const again = await main({ trigger: 'sync' }, aContext())
      expect(again).toMatchObject({ created: 0, existing: 1 })
      expect(await jobs.listJobs({ kind: name, limit: 10 })).toHaveLength(1)

      clock.set('2026-06-02T06:30:00.000Z')
      const nextDay = await main({ trigger: 'sync' }, aContext())
      expect(nextDay).toMatchObject({ day: '2026-06-02', created: 1 })
      expect(await jobs.listJobs({ kind: name, limit: 10 })).toHaveLength(2)
    })

    it('leaves a sync still running from the day before to finish instead of starting another', async () => {
      const { main, clock, jobs, name } = setup()
      await main({ trigger: 'sync' }, aContext())
      clock.set('2026-06-02T06:30:00.000Z')
      const result = await main({ trigger: 'sync' }, aContext())
      expect(result).toMatchObject({ created: 0, existing: 1 })
      expect(await jobs.listJobs({ kind: name, limit: 10 })).toHaveLength(1)
    })
  })

  describe('errors', () => {
    it('reports a sync whose planning failed and still enqueues the others', async () => {
      const { main, jobs, name, lines } = setup((base) => {
        const broken = defineJobKind({
          kind: `${base}-broken`,
          plan: async () => Promise.reject(new Error('Jira unreachable')),
          async *run() {},
        })
        return {
          kinds: [broken],
          syncs: [{ kind: broken.kind, dedupeKey: broken.kind, params: () => ({}) }],
        }
      })
      const result = await main({ trigger: 'sync' }, aContext())
      expect(result).toMatchObject({ ok: true, created: 1, failed: 1 })
      expect(await jobs.listJobs({ kind: name, limit: 10 })).toHaveLength(1)
      expect(lines).toContainEqual(
        expect.objectContaining({ msg: 'daily sync not enqueued', kind: `${name}-broken` }),
      )
    })
  })
})
