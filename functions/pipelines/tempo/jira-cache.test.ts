import { inArray, sql } from 'drizzle-orm'
import { beforeAll, describe, expect, it } from 'vitest'
import { jiraIssueKeys, jiraUsers } from '#db/schema.ts'
import { useTestDatabase } from '#test/database.ts'
import { heldLease } from '#test/lease.ts'
import { findIssueKeys, findUsers, saveIssueKeys, saveUsers } from './jira-cache.ts'

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

describe('jira cache', () => {
  describe('happy', () => {
    it('returns the cached keys of the ids asked for, and only those', async () => {
      const { db } = getDatabase()
      await saveIssueKeys(db, lease(), [
        { issueId: '101', issueKey: 'OPS-1', projectKey: 'OPS', projectId: '1' },
        { issueId: '102', issueKey: 'WEB-7', projectKey: 'WEB', projectId: '2' },
      ])
      const found = await findIssueKeys(db, ['101', '102', '999', '101'])
      expect(Object.fromEntries(found)).toEqual({
        '101': { issueId: '101', issueKey: 'OPS-1', projectKey: 'OPS', projectId: '1' },
        '102': { issueId: '102', issueKey: 'WEB-7', projectKey: 'WEB', projectId: '2' },
      })
      expect(await findIssueKeys(db, [])).toEqual(new Map())
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
      expect((await findIssueKeys(db, ['201'])).get('201')?.issueKey).toBe('DATA-3')
    })

    it('stores users with or without an e-mail and replaces renamed ones', async () => {
      const { db } = getDatabase()
      await saveUsers(db, [
        { accountId: 'acc-1', displayName: 'Ada', email: null },
        { accountId: 'acc-2', displayName: 'Grace', email: 'grace@example.com' },
      ])
      await saveUsers(db, [{ accountId: 'acc-1', displayName: 'Ada L.', email: null }])
      const found = await findUsers(db, ['acc-1', 'acc-2', 'acc-3'])
      expect(Object.fromEntries(found)).toEqual({
        'acc-1': { accountId: 'acc-1', displayName: 'Ada L.', email: null },
        'acc-2': { accountId: 'acc-2', displayName: 'Grace', email: 'grace@example.com' },
      })
    })
  })

  describe('errors', () => {
    it('treats entries older than the maximum age as missing', async () => {
      const { db } = getDatabase()
      await saveIssueKeys(db, lease(), [
        { issueId: '301', issueKey: 'OPS-30', projectKey: 'OPS', projectId: '1' },
      ])
      await saveUsers(db, [{ accountId: 'acc-old', displayName: 'Old', email: null }])
      await db
        .update(jiraIssueKeys)
        .set({ updatedAt: sql`now() - interval '2 days'` })
        .where(inArray(jiraIssueKeys.issueId, ['301']))
      await db
        .update(jiraUsers)
        .set({ updatedAt: sql`now() - interval '2 days'` })
        .where(inArray(jiraUsers.accountId, ['acc-old']))
      expect((await findIssueKeys(db, ['301'], 86_400)).size).toBe(0)
      expect((await findIssueKeys(db, ['301'], 3 * 86_400)).size).toBe(1)
      expect((await findUsers(db, ['acc-old'], 86_400)).size).toBe(0)
      expect((await findUsers(db, ['acc-old'], 3 * 86_400)).size).toBe(1)
    })

    it('does nothing for an empty save', async () => {
      const { db } = getDatabase()
      await expect(saveIssueKeys(db, lease(), [])).resolves.toBeUndefined()
      await expect(saveUsers(db, [])).resolves.toBeUndefined()
    })
  })
})
