import { asc, eq } from 'drizzle-orm'
import { projects } from '#db/schema.ts'
import type { Database } from './client.ts'

/** Keys of the active rows of `projects` (the projects backfills and syncs cover), in key order. */
export async function activeProjectKeys(db: Database): Promise<string[]> {
  const rows = await db
    .select({ key: projects.key })
    .from(projects)
    .where(eq(projects.isActive, true))
    .orderBy(asc(projects.key))
  return rows.map((row) => row.key)
}
