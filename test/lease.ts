import { randomUUID } from 'node:crypto'
import type { PoolLike } from '#core/db/client.ts'
import { createJobQueue } from '#core/jobs/queue.ts'

/**
 * A real lease on a chunk of a job of its own, held for `leaseMs` (10 minutes by default), for
 * tests that run a kind's chunk directly: the sinks' writes are fenced by it.
 * @example const lease = await heldLease(getDatabase().pool)
 */
export async function heldLease(
  pool: PoolLike,
  leaseMs = 600_000,
): Promise<{ chunkId: string; token: string }> {
  const jobs = createJobQueue(pool)
  const kind = `test-lease-${randomUUID()}`
  await jobs.enqueue({ kind, params: {}, scopes: [{}], createdBy: 'test' })
  const claimed = await jobs.claim({ kinds: [kind], leaseMs })
  if (!claimed) {
    throw new Error('heldLease: the chunk just queued could not be claimed')
  }
  return { chunkId: claimed.lease.chunkId, token: claimed.lease.token }
}
