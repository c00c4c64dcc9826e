import { inArray, sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { databaseNow } from '#core/db/database-now.ts'
import { LeaseLostError } from '#core/jobs/lease-fence.ts'
import { tempoWorklogs } from '#db/schema.ts'
import { useTestDatabase } from '#test/database.ts'
import { heldLease } from '#test/lease.ts'
import {
  deleteWorklogs,
  deletionShares,
  findUnseenWorklogs,
  touchWorklogs,
  upsertWorklogs,
  type WorklogRow,
} from './worklogs-table.ts'

const getDatabase = useTestDatabase()
let held: { chunkId: string; token: string } | undefined
const lease = () => {
  if (!held) {
    throw new Error('no lease yet')
  }
  return held
}
beforeAll(async () => {
  held = await heldLease(getDatabase().pool)
})

function aRow(overrides: Partial<WorklogRow> & { worklogId: string }): WorklogRow {
  return {
    accountId: 'acc-1',
    issueId: '10001',
    issueKey: 'OPS-1',
    epicKey: null,
    projectKey: 'OPS',
    startDate: '2025-01-06',
    startTime: '09:30:00',
    hours: 1.5,
    timeSpentSeconds: 5400,
    userDisplayName: 'Ada Lovelace',
    team: null,
    description: '',
    tempoUpdatedAt: new Date('2025-01-06T11:00:00Z'),
    ...overrides,
  }
}

async function stored(ids: string[]) {
  const { db } = getDatabase()
  return db
    .select()
    .from(tempoWorklogs)
    .where(inArray(tempoWorklogs.worklogId, ids))
    .orderBy(tempoWorklogs.worklogId)
}

// Ages rows so that a scan "starting now" has not seen them.
async function age(ids: string[]) {
  const { db } = getDatabase()
  await db
    .update(tempoWorklogs)
    .set({ updatedAt: sql`now() - interval '1 hour'` })
    .where(inArray(tempoWorklogs.worklogId, ids))
}

describe('tempo worklogs', () => {
  describe('happy', () => {
    it('inserts and then replaces worklogs by worklog id', async () => {
      const { db } = getDatabase()
      await upsertWorklogs(db, lease(), [aRow({ worklogId: 'u1' }), aRow({ worklogId: 'u2' })])
      await upsertWorklogs(db, lease(), [
        aRow({ worklogId: 'u1', hours: 2, issueKey: 'OPS-2', description: 'edited' }),
        aRow({ worklogId: 'u1', hours: 3, issueKey: 'OPS-3', description: 'edited twice' }),
      ])
      const rows = await stored(['u1', 'u2'])
      expect(rows.map((row) => [row.worklogId, row.hours, row.issueKey, row.description])).toEqual([
        ['u1', 3, 'OPS-3', 'edited twice'],
        ['u2', 1.5, 'OPS-1', ''],
      ])
    })

    it('only moves a row forward in Tempo’s updatedAt, yet counts an older read as seen', async () => {
      const { db } = getDatabase()
      const at = (iso: string) => new Date(iso)
      const first = await upsertWorklogs(db, lease(), [
        aRow({ worklogId: 'f1', hours: 3, tempoUpdatedAt: at('2025-01-06T12:00:00Z') }),
      ])
      expect([...first]).toEqual(['f1'])
      await age(['f1'])
      const older = await upsertWorklogs(db, lease(), [
        aRow({ worklogId: 'f1', hours: 1, tempoUpdatedAt: at('2025-01-06T11:59:59Z') }),
      ])
      expect([...older]).toEqual([])
      const [row] = await stored(['f1'])
      expect(row?.hours).toBe(3)
      expect(row!.updatedAt.getTime()).toBeGreaterThan(Date.now() - 60_000)
      const same = await upsertWorklogs(db, lease(), [
        aRow({
          worklogId: 'f1',
          hours: 3,
          issueKey: 'NEW-1',
          tempoUpdatedAt: at('2025-01-06T12:00:00Z'),
        }),
      ])
      expect([...same]).toEqual(['f1'])
      expect((await stored(['f1']))[0]?.issueKey).toBe('NEW-1')
    })

    it('writes, touches and deletes nothing under a lease that expired or passed to another worker, and says so', async () => {
      const { db, pool } = getDatabase()
      await upsertWorklogs(db, lease(), [aRow({ worklogId: 'x1', hours: 2 })])
      await age(['x1'])
      const expired = await heldLease(pool)
      await pool.query(
        `update job_chunks set lease_expires_at = now() - interval '1 second' where id = $1`,
        [expired.chunkId],
      )
      const stolen = { ...lease(), token: '00000000-0000-4000-8000-000000000000' }
      for (const lost of [expired, stolen]) {
        // A refused write ends the attempt: it must not pass for an older version or a no-op.
        await expect(
          upsertWorklogs(db, lost, [aRow({ worklogId: 'x1', hours: 9 })]),
        ).rejects.toThrow(LeaseLostError)
        await expect(
          upsertWorklogs(db, lost, [aRow({ worklogId: 'x-new', hours: 9 })]),
        ).rejects.toThrow(LeaseLostError)
        await expect(touchWorklogs(db, lost, ['x1'])).rejects.toThrow(LeaseLostError)
        await expect(deleteWorklogs(db, lost, ['x1'])).rejects.toThrow(LeaseLostError)
      }
      expect(await stored(['x-new'])).toEqual([])
      const [row] = await stored(['x1'])
      expect(row?.hours).toBe(2)
      expect(row!.updatedAt.getTime()).toBeLessThan(Date.now() - 30 * 60_000)
    })

    it('finds the rows of a window that were not written since the scan began', async () => {
      const { db } = getDatabase()
      await upsertWorklogs(db, lease(), [
        aRow({ worklogId: 'w1', startDate: '2024-03-01', projectKey: 'WIN' }),
        aRow({ worklogId: 'w2', startDate: '2024-03-15', projectKey: 'WIN', issueId: '77' }),
        aRow({ worklogId: 'w3', startDate: '2024-03-30', projectKey: 'WIN' }),
        aRow({ worklogId: 'w4', startDate: '2024-04-01', projectKey: 'WIN' }), // after the window
        aRow({ worklogId: 'w5', startDate: '2024-03-10', projectKey: 'OFF' }), // other project
      ])
      await age(['w1', 'w2', 'w3', 'w4', 'w5'])
      const scanStart = await databaseNow(db)
      await upsertWorklogs(db, lease(), [
        aRow({ worklogId: 'w1', startDate: '2024-03-01', projectKey: 'WIN' }),
      ])
      await touchWorklogs(db, lease(), ['w3', 'not-stored'])
      const window = {
        from: '2024-03-01',
        to: '2024-03-30',
        seenBefore: scanStart,
        after: null,
        limit: 100,
      }
      expect(await findUnseenWorklogs(db, { ...window, projectKeys: ['WIN'] })).toEqual([
        { worklogId: 'w2', issueId: '77' },
      ])
      const everyProject = await findUnseenWorklogs(db, { ...window, projectKeys: null })
      expect(everyProject.map((row) => row.worklogId)).toEqual(['w2', 'w5'])
      expect(await findUnseenWorklogs(db, { ...window, projectKeys: [] })).toEqual([])
      expect(await findUnseenWorklogs(db, { ...window, projectKeys: null, limit: 1 })).toEqual([
        { worklogId: 'w2', issueId: '77' },
      ])
      const next = await findUnseenWorklogs(db, { ...window, projectKeys: null, after: 'w2' })
      expect(next.map((row) => row.worklogId)).toEqual(['w5'])
      const exceptWin = await findUnseenWorklogs(db, {
        ...window,
        projectKeys: null,
        exceptKeys: ['WIN'],
      })
      expect(exceptWin.map((row) => row.worklogId)).toEqual(['w5'])
    })

    it('counts a renamed project’s rows under its old and new keys as one project’s for the brake', async () => {
      const { db } = getDatabase()
      const rowsOf = (key: string, count: number, startDate = '2024-05-10') =>
        Array.from({ length: count }, (_, n) =>
          aRow({ worklogId: `s-${key}-${startDate}-${n}`, projectKey: key, startDate }),
        )
      // Project 900 was OLDK and is NEWK now; OTH is a project Jira does not list.
      const unseen = [
        ...rowsOf('OLDK', 10),
        ...rowsOf('OLDK', 3, '2024-06-10'), // after the window
        ...rowsOf('OTH', 5).slice(0, 2),
      ]
      await upsertWorklogs(db, lease(), unseen)
      await age(unseen.map((row) => row.worklogId))
      const seenBefore = await databaseNow(db)
      // The rescan wrote these (the project's under its new key).
      await upsertWorklogs(db, lease(), [...rowsOf('NEWK', 30), ...rowsOf('OTH', 5).slice(2)])
      const query = {
        from: '2024-05-01',
        to: '2024-05-30',
        seenBefore,
        projectOfKey: new Map([
          ['OLDK', '900'],
          ['NEWK', '900'],
        ]),
      }
      expect(await deletionShares(db, { ...query, projectKeys: ['OLDK', 'NEWK', 'OTH'] })).toEqual([
        { project: '900', keys: ['NEWK', 'OLDK'], gone: 10, stored: 40 },
        { project: 'OTH', keys: ['OTH'], gone: 2, stored: 5 },
      ])
      // Unseen rows of projects the chunk does not keep were never checked: not gone.
      expect(await deletionShares(db, { ...query, projectKeys: ['OLDK', 'NEWK'] })).toEqual([
        { project: '900', keys: ['NEWK', 'OLDK'], gone: 10, stored: 40 },
      ])
      expect(await deletionShares(db, { ...query, projectKeys: [] })).toEqual([])
    })

    it('deletes by worklog id and counts what went', async () => {
      const { db } = getDatabase()
      await upsertWorklogs(db, lease(), [aRow({ worklogId: 'd1' }), aRow({ worklogId: 'd2' })])
      expect(await deleteWorklogs(db, lease(), ['d1', 'd1', 'missing'])).toBe(1)
      expect((await stored(['d1', 'd2'])).map((row) => row.worklogId)).toEqual(['d2'])
      expect(await deleteWorklogs(db, lease(), [])).toBe(0)
    })
  })

  describe('errors', () => {
    it('gives the database time as a Date', async () => {
      const { db, pool } = getDatabase()
      const now = await databaseNow(db)
      const { rows } = await pool.query<{ now: Date }>('select now() as now')
      expect(Math.abs(now.getTime() - rows[0]!.now.getTime())).toBeLessThan(1000)
    })

    it('ignores empty writes', async () => {
      const { db } = getDatabase()
      await expect(upsertWorklogs(db, lease(), [])).resolves.toEqual(new Set())
      await expect(touchWorklogs(db, lease(), [])).resolves.toBeUndefined()
    })
  })
})
