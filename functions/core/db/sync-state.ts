import { and, eq, inArray, sql } from 'drizzle-orm'
import { syncState } from '#db/schema.ts'
import type { Database } from './client.ts'

/**
 * Incremental-sync watermarks (table `sync_state`): per source and scope (a project key,
 * or `''`), the instant up to which everything has been written. Watermarks only move
 * forward, and only after the work up to them completed.
 */

/** The watermarks of `scopes` for `source`, as epoch ms by scope; scopes without one are absent. */
export async function readWatermarks(
  db: Database,
  source: string,
  scopes: readonly string[],
): Promise<Map<string, number>> {
  if (scopes.length === 0) {
    return new Map()
  }
  const rows = await db
    .select({ scope: syncState.scope, watermark: syncState.watermark })
    .from(syncState)
    .where(and(eq(syncState.source, source), inArray(syncState.scope, [...new Set(scopes)])))
  return new Map(rows.map((row) => [row.scope, row.watermark.getTime()]))
}

/**
 * Moves a watermark forward to `toMs` (never back). With `onlyIfCoveredFrom`, an existing
 * watermark moves only when the finished work started at or before it, so no gap opens between
 * the old watermark and the new one (a backfill of the last day must not skip a week unsynced).
 * Returns whether the stored watermark is now `toMs` or later.
 */
export async function advanceWatermark(
  db: Database,
  entry: { source: string; scope: string; toMs: number; onlyIfCoveredFrom?: number },
): Promise<boolean> {
  const to = new Date(entry.toMs)
  const covered =
    entry.onlyIfCoveredFrom === undefined
      ? sql`true`
      : sql`${syncState.watermark} >= ${new Date(entry.onlyIfCoveredFrom)}`
  const rows = await db
    .insert(syncState)
    .values({ source: entry.source, scope: entry.scope, watermark: to })
    .onConflictDoUpdate({
      target: [syncState.source, syncState.scope],
      set: {
        watermark: sql`greatest(${syncState.watermark}, excluded.watermark)`,
        updatedAt: sql`now()`,
      },
      where: covered,
    })
    .returning({ watermark: syncState.watermark })
  return rows.length > 0
}
