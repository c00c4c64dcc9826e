import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { useUpstashBridge } from '#test/redis.ts'
import { createFuzzDatabase, type FuzzDatabase } from './database.ts'
import { changes, type StateProbe, stateProbe } from './state.ts'

const { redisUrl } = useUpstashBridge()
let database: FuzzDatabase
let probe: StateProbe
let client: pg.Client
let redis: Redis | undefined

beforeAll(async () => {
  database = await createFuzzDatabase(inject('databaseUrl'))
  const url = process.env.REDIS_URL ? redisUrl() : undefined
  probe = stateProbe({ databaseUrl: database.url, redisUrl: url })
  client = new pg.Client({ connectionString: database.url })
  await client.connect()
  redis = url ? new Redis(url) : undefined
})
afterAll(async () => {
  await probe.close()
  await client.end()
  redis?.disconnect()
  await database.drop()
})

describe('the state probe', () => {
  it('sees every insert, update (even to the same values) and delete, and nothing else', async () => {
    const start = await probe.snapshot()
    expect(changes(start, await probe.snapshot())).toEqual([])
    await client.query("insert into projects (key, name) values ('FUZZ', 'x')")
    const inserted = await probe.snapshot()
    expect(changes(start, inserted).map((line) => line.split(':')[0])).toEqual(['projects'])
    await client.query("update projects set name = name where key = 'FUZZ'")
    const updated = await probe.snapshot()
    expect(changes(inserted, updated).map((line) => line.split(':')[0])).toEqual(['projects'])
    await client.query("delete from projects where key = 'FUZZ'")
    expect(changes(updated, await probe.snapshot()).map((line) => line.split(':')[0])).toEqual([
      'projects',
    ])
  })

  it.runIf(process.env.REDIS_URL)(
    'compares Redis keys, but not the counters of the limiter and the pacer',
    async () => {
      const start = await probe.snapshot()
      await redis?.set('agent-pm:rl:client-hour:ip:10.0.0.1:1', '3')
      await redis?.zadd('agent-pm:pace:{jira}:slots', 1, 'a')
      expect(changes(start, await probe.snapshot())).toEqual([])
      await redis?.set('agent-pm:pace:{jira}:paused', '1')
      expect(changes(start, await probe.snapshot())).toEqual([
        expect.stringMatching(/^redis agent-pm:pace:\{jira\}:paused: ∅ → [0-9a-f]{40}$/),
      ])
    },
  )
})
