import { sql } from 'drizzle-orm'
import type { Database } from '#core/db/client.ts'
import { AppError } from '#core/errors.ts'
import { jobChunks } from '#db/schema.ts'

/** A chunk attempt's hold: the chunk and the token it was claimed with. */
export type HeldLease = { chunkId: string; token: string }

/**
 * A condition for a sink's write statement: true only while `lease` still holds its chunk (the
 * token matches, the chunk runs and the lease has not expired by the database's clock), the same
 * test as the queue's own writes. Put in the same statement as the write, so a worker that lost its
 * lease writes nothing (docs/ARCHITECTURE.md, "The job engine"), and have the statement return it:
 * a write it blocked must end the attempt (`LeaseLostError`), never pass for a write that found
 * nothing to do.
 * @example db.execute(sql`with fence as (select ${leaseHeld(lease)} as held), w as (insert … where (select held from fence)) select held from fence`)
 */
export function leaseHeld(lease: HeldLease) {
  return sql`exists (select 1 from ${jobChunks} where ${jobChunks.id} = ${lease.chunkId}::uuid
    and ${jobChunks.leaseToken} = ${lease.token}::uuid and ${jobChunks.status} = 'running'
    and ${jobChunks.leaseExpiresAt} > now())`
}

/**
 * A fenced write found the lease gone: the attempt ends at once, writing nothing more (no upstream
 * write or delete either), and its page is never checkpointed. The engine counts the attempt as
 * lost; the chunk goes on from its last checkpoint in whichever worker claims it next.
 */
export class LeaseLostError extends AppError {
  constructor() {
    super('CONFLICT', 'The chunk’s lease expired or passed to another worker.', {
      retryable: true,
    })
  }
}

/**
 * Ends the attempt unless `held` (what a fenced statement returned of `leaseHeld`).
 * @throws {LeaseLostError} when the lease no longer holds
 */
export function requireLease(held: boolean | undefined): void {
  if (held !== true) {
    throw new LeaseLostError()
  }
}

/**
 * Checks the lease before a write no statement can fence (an upstream's, such as a delete in
 * Pinecone). The lease can still end during that write; the engine's own stop, a safety margin
 * before the lease ends, aborts it then.
 * @throws {LeaseLostError} when the lease no longer holds
 */
export async function checkLease(db: Database, lease: HeldLease): Promise<void> {
  const result = await db.execute<{ held: boolean }>(sql`select ${leaseHeld(lease)} as held`)
  requireLease(result.rows[0]?.held)
}
