import { inArray, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { jiraUsers } from '#db/schema.ts'
import { useTestDatabase } from '#test/database.ts'
import { findUsers, saveUsers } from './jira-cache.ts'

const getDatabase = useTestDatabase()

describe('jira user cache', () => {
  describe('happy', () => {
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
      await saveUsers(db, [{ accountId: 'acc-old', displayName: 'Old', email: null }])
      await db
        .update(jiraUsers)
        .set({ updatedAt: sql`now() - interval '2 days'` })
        .where(inArray(jiraUsers.accountId, ['acc-old']))
      expect((await findUsers(db, ['acc-old'], 86_400)).size).toBe(0)
      expect((await findUsers(db, ['acc-old'], 3 * 86_400)).size).toBe(1)
    })

    it('does nothing for an empty save', async () => {
      const { db } = getDatabase()
      await expect(saveUsers(db, [])).resolves.toBeUndefined()
    })
  })
})
