import { sql } from 'drizzle-orm'
import { jobChunks } from '#db/schema.ts'

/** A chunk attempt's hold: the chunk and the token it was claimed with. */
export type HeldLease = { chunkId: string; token: string }

/**
 * A condition for a sink's write statement: true only while `lease` still holds its chunk (the
 * token matches, the chunk runs and the lease has not expired by the database's clock). Put in
 * the same statement as the write, so a worker that lost its lease writes nothing
 * (docs/ARCHITECTURE.md, "The job engine").
 * @example db.insert(t).select(db.select(…).from(…).where(leaseHeld(input.lease)))
 */
export function leaseHeld(lease: HeldLease) {
  return sql`exists (select 1 from ${jobChunks} where ${jobChunks.id} = ${lease.chunkId}::uuid
    and ${jobChunks.leaseToken} = ${lease.token}::uuid and ${jobChunks.status} = 'running'
    and ${jobChunks.leaseExpiresAt} > now())`
}
