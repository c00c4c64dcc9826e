import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { startUpstashBridge, type UpstashBridge } from '#sandbox/upstash-bridge.ts'

/** What `useUpstashBridge()` gives a test file. */
export type UpstashBridgeContext = {
  /**
   * False only when Redis-backed tests should be skipped (no `REDIS_URL`, outside CI):
   * `describe.skipIf(!redisAvailable)(…)`. In CI it stays true so a missing Redis fails the file.
   */
  redisAvailable: boolean
  /** This file's bridge; call it inside tests or hooks, after `beforeAll` has started it. */
  bridge: () => UpstashBridge
  /** This file's own Redis database (`REDIS_URL` with the db number as path), e.g. for a second bridge. */
  redisUrl: () => string
}

// Databases 1–15, one per vitest worker slot: files run in parallel, never two in one slot at once.
// Database 0 is left to the dev server.
function fileDatabaseUrl(redisUrl: string): string {
  const slot = Number(process.env.VITEST_POOL_ID ?? '1')
  const url = new URL(redisUrl)
  url.pathname = `/${1 + ((Math.max(slot, 1) - 1) % 15)}`
  return url.toString()
}

/**
 * Starts an Upstash REST bridge on this file's own, freshly flushed, Redis database for the
 * whole file, and closes it afterwards. Call it once at the top of a test file.
 * @example
 * const { redisAvailable, bridge } = useUpstashBridge()
 * describe.skipIf(!redisAvailable)('rate limits', () => {
 *   it('…', async () => {
 *     const redis = new Redis({ url: bridge().url, token: bridge().token, enableTelemetry: false })
 *   })
 * })
 */
export function useUpstashBridge(): UpstashBridgeContext {
  const configured = process.env.REDIS_URL
  const ci = process.env.CI === 'true'
  let bridge: UpstashBridge | undefined
  const url = configured ? fileDatabaseUrl(configured) : undefined

  if (!configured && !ci) {
    process.stderr.write('\n[test/redis] REDIS_URL is not set: skipping Redis-backed tests.\n\n')
  }
  beforeAll(async () => {
    if (!url) {
      if (ci) {
        throw new Error(
          'REDIS_URL must be set in CI: the Redis-backed tests cannot run without it.',
        )
      }
      return
    }
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 })
    try {
      await redis.connect()
      await redis.flushdb()
    } finally {
      redis.disconnect()
    }
    bridge = await startUpstashBridge({ redisUrl: url, token: randomBytes(16).toString('hex') })
  })
  afterAll(async () => {
    await bridge?.close()
  })

  return {
    redisAvailable: Boolean(configured) || ci,
    bridge: () => {
      if (!bridge) {
        throw new Error('The Upstash bridge is not running: use it inside tests or hooks.')
      }
      return bridge
    },
    redisUrl: () => {
      if (!url) {
        throw new Error('REDIS_URL is not set.')
      }
      return url
    },
  }
}
