import { inArray, sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { databaseNow } from '#core/db/database-now.ts'
import { LeaseLostError } from '#core/jobs/lease-fence.ts'
import { jiraIssueKeys } from '#db/schema.ts'
import { useTestDatabase } from '#test/database.ts'
import { heldLease } from '#test/lease.ts'
import {
  confirmMoves,
  findIssueKeys,
  recordWrites,
  saveIssueKeys,
  type WrittenIssue,
} from './issue-map.ts'

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

const LONG_AGO = new Date('2000-01-01T00:00:00Z')

function written(issueId: string, issueKey: string, updatedMs: number): WrittenIssue {
  const projectKey = issueKey.split('-')[0] ?? ''
  return { issueId, issueKey, projectId: `p-${projectKey}`, projectKey, updatedMs }
}

async function rowOf(issueId: string) {
  const rows = await getDatabase()
    .db.select()
    .from(jiraIssueKeys)
    .where(inArray(jiraIssueKeys.issueId, [issueId]))
  return rows[0]
}

/** A lease on a chunk whose lease has expired, though no other worker claimed it yet. */
async function expiredLease() {
  const { pool } = getDatabase()
  const lost = await heldLease(pool)
  await pool.query(
    `update job_chunks set lease_expires_at = now() - interval '1 second' where id = $1`,
    [lost.chunkId],
  )
  return lost
}

describe('jira issue keys', () => {
  describe('happy', () => {
    it('returns the keys of the ids asked for, and only those', async () => {
      const { db } = getDatabase()
      await saveIssueKeys(db, lease(), [
        { issueId: '101', issueKey: 'OPS-1', projectKey: 'OPS', projectId: '1' },
        { issueId: '102', issueKey: 'WEB-7', projectKey: 'WEB', projectId: '2' },
      ])
      const found = await findIssueKeys(db, ['101', '102', '999', '101'], LONG_AGO)
      expect(Object.fromEntries(found)).toEqual({
        '101': { issueId: '101', issueKey: 'OPS-1', projectKey: 'OPS', projectId: '1' },
        '102': { issueId: '102', issueKey: 'WEB-7', projectKey: 'WEB', projectId: '2' },
      })
      expect(await findIssueKeys(db, [], LONG_AGO)).toEqual(new Map())
    })

    it('replaces an entry when Jira answers differently (a moved issue)', async () => {
      const { db } = getDatabase()
      await saveIssueKeys(db, lease(), [
        { issueId: '201', issueKey: 'OPS-9', projectKey: 'OPS', projectId: '1' },
      ])
      await saveIssueKeys(db, lease(), [
        { issueId: '201', issueKey: 'OLD-1', projectKey: 'OLD', projectId: '3' },
        { issueId: '201', issueKey: 'DATA-3', projectKey: 'DATA', projectId: '4' },
      ])
      expect((await findIssueKeys(db, ['201'], LONG_AGO)).get('201')?.issueKey).toBe('DATA-3')
    })

    it('keeps a moved issue’s former key until the deletion of its vector is confirmed', async () => {
      const { db } = getDatabase()
      await recordWrites(db, lease(), [written('301', 'OLD-1', 1000)])
      const moving = await recordWrites(db, lease(), [written('301', 'NEW-1', 2000)])
      expect(moving).toEqual([{ issueId: '301', newest: true, movedFrom: 'OLD-1' }])
      // The step failed before the old vector went: its retry moves it again.
      const retried = await recordWrites(db, lease(), [written('301', 'NEW-1', 2000)])
      expect(retried).toEqual([{ issueId: '301', newest: true, movedFrom: 'OLD-1' }])
      await confirmMoves(db, lease(), [{ issueId: '301', from: 'OLD-1', to: 'NEW-1' }])
      expect(await recordWrites(db, lease(), [written('301', 'NEW-1', 2000)])).toEqual([
        { issueId: '301', newest: true, movedFrom: null },
      ])
      expect(await rowOf('301')).toMatchObject({ issueKey: 'NEW-1', vectorKey: 'NEW-1' })
    })

    it('confirms a move only from the key it moved from', async () => {
      const { db } = getDatabase()
      await recordWrites(db, lease(), [written('401', 'OLD-4', 1000)])
      await recordWrites(db, lease(), [written('401', 'MID-4', 2000)])
      await confirmMoves(db, lease(), [{ issueId: '401', from: 'OLD-4', to: 'MID-4' }])
      // A late confirmation of an older move leaves the newer record alone.
      await confirmMoves(db, lease(), [{ issueId: '401', from: 'OLD-4', to: 'ANY-4' }])
      expect((await rowOf('401'))?.vectorKey).toBe('MID-4')
    })
  })

  describe('errors', () => {
    it('gives only keys Jira named since the given instant', async () => {
      const { db } = getDatabase()
      await saveIssueKeys(db, lease(), [
        { issueId: '501', issueKey: 'OPS-50', projectKey: 'OPS', projectId: '1' },
        { issueId: '502', issueKey: 'OPS-51', projectKey: 'OPS', projectId: '1' },
      ])
      await db
        .update(jiraIssueKeys)
        .set({ updatedAt: sql`now() - interval '1 minute'` })
        .where(inArray(jiraIssueKeys.issueId, ['501']))
      const since = await databaseNow(db)
      await db
        .update(jiraIssueKeys)
        .set({ updatedAt: sql`now() + interval '1 second'` })
        .where(inArray(jiraIssueKeys.issueId, ['502']))
      expect([...(await findIssueKeys(db, ['501', '502'], since)).keys()]).toEqual(['502'])
    })

    it('ends the attempt, writing nothing, under a lease that expired or passed to another worker', async () => {
      const { db } = getDatabase()
      await recordWrites(db, lease(), [written('601', 'OLD-6', 1000)])
      await recordWrites(db, lease(), [written('601', 'NEW-6', 2000)])
      const stolen = { ...lease(), token: '00000000-0000-4000-8000-000000000000' }
      for (const lost of [await expiredLease(), stolen]) {
        await expect(recordWrites(db, lost, [written('601', 'NEXT-6', 3000)])).rejects.toThrow(
          LeaseLostError,
        )
        await expect(
          saveIssueKeys(db, lost, [
            { issueId: '601', issueKey: 'NEXT-6', projectKey: 'NEXT', projectId: '9' },
          ]),
        ).rejects.toThrow(LeaseLostError)
        await expect(
          confirmMoves(db, lost, [{ issueId: '601', from: 'OLD-6', to: 'NEW-6' }]),
        ).rejects.toThrow(LeaseLostError)
      }
      expect(await rowOf('601')).toMatchObject({
        issueKey: 'NEW-6',
        vectorKey: 'OLD-6',
        vectorUpdatedMs: 2000,
      })
    })

    it('does nothing for empty writes', async () => {
      const { db } = getDatabase()
      const lost = await expiredLease()
      await expect(recordWrites(db, lost, [])).resolves.toEqual([])
      await expect(saveIssueKeys(db, lost, [])).resolves.toBeUndefined()
      await expect(confirmMoves(db, lost, [])).resolves.toBeUndefined()
    })
  })
})
