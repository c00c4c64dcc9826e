import { sql } from 'drizzle-orm'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { freePort } from '#sandbox/ports.ts'
import { useTestDatabase } from '#test/database.ts'
import { isConnectionLoss, toErrorResponse } from '../errors.ts'
import { createDatabase } from './client.ts'

const getDatabase = useTestDatabase()

async function failureOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run()
  } catch (err) {
    return err
  }
  throw new Error('expected a failure')
}

// What a client sees while PostgreSQL restarts: 503 with Retry-After, never a 500.
describe('a lost database connection', () => {
  it('answers 503 UNAVAILABLE with Retry-After when the server refuses connections', async () => {
    const port = await freePort() // nothing listens there
    const { db, pool } = createDatabase({
      url: `postgres://postgres:postgres@127.0.0.1:${port}/none`,
      poolMax: 1,
      caCert: undefined,
    })
    try {
      const err = await failureOf(() => db.execute(sql`select 1`))
      expect(isConnectionLoss(err)).toBe(true)
      expect(toErrorResponse(err, 'req-1')).toEqual({
        status: 503,
        headers: { 'Retry-After': '5' },
        body: {
          error: {
            code: 'UNAVAILABLE',
            message: 'The service is briefly unavailable; try again in a few seconds.',
            requestId: 'req-1',
          },
        },
      })
    } finally {
      await pool.end()
    }
  })

  it('answers 503 when the server ends the session under a query (a restart)', async () => {
    const client = new pg.Client({ connectionString: getDatabase().url })
    client.on('error', () => {})
    await client.connect()
    const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid
    const killer = new pg.Client({ connectionString: getDatabase().url })
    await killer.connect()
    try {
      // The query's failure is taken as soon as it comes, which may be before the kill's answer.
      const running = client.query('select pg_sleep(5)').then(
        () => new Error('the query outlived its session'),
        (failure: unknown) => failure,
      )
      await killer.query('select pg_terminate_backend($1)', [pid])
      const err = await running
      expect(isConnectionLoss(err)).toBe(true)
      expect(toErrorResponse(err, 'req-2').status).toBe(503)
      // The dead client's next query fails the same way.
      const next = await failureOf(() => client.query('select 1'))
      expect(toErrorResponse(next, 'req-3').status).toBe(503)
    } finally {
      await killer.end()
      await client.end().catch(() => {})
    }
  })

  it('leaves other database errors a 500', async () => {
    const err = await failureOf(() => getDatabase().db.execute(sql`select * from no_such_table`))
    expect(isConnectionLoss(err)).toBe(false)
    expect(toErrorResponse(err, 'req-4').status).toBe(500)
  })
})
