import { describe, expect, it } from 'vitest'
import { useTestDatabase } from '#test/database.ts'
import { createDatabase } from './client.ts'

const getDatabase = useTestDatabase()

describe('createDatabase', () => {
  it('gives up on a query that outlives the timeout instead of hanging the function', async () => {
    const { pool } = createDatabase(
      { url: getDatabase().url, caCert: undefined, poolMax: 1 },
      () => {},
      200,
    )
    try {
      await expect(pool.query('select pg_sleep(2)')).rejects.toThrow(/timeout/i)
    } finally {
      await pool.end()
    }
  })

  it('sends no startup parameter PgBouncer would refuse', async () => {
    const { pool } = createDatabase({ url: getDatabase().url, caCert: undefined, poolMax: 1 })
    try {
      const setting = await pool.query<{ statement_timeout: string }>('show statement_timeout')
      expect(setting.rows[0]?.statement_timeout).toBe('0')
    } finally {
      await pool.end()
    }
  })
})
