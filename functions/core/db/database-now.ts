import { sql } from 'drizzle-orm'
import type { Database } from './client.ts'

/** The database's clock, truncated to milliseconds (so a JS `Date` holds it exactly). */
export async function databaseNow(db: Database): Promise<Date> {
  const result = await db.execute<{ now: Date | string }>(
    sql`select date_trunc('milliseconds', now()) as now`,
  )
  const value = result.rows[0]?.now
  return new Date(value ?? Number.NaN)
}
