// A backfill started through the local server (`npm start`) gets a jobs/worker run at once,
// through the server's emulation of DigitalOcean's invoke API, as a deployed one does with
// FUNCTIONS_ACCESS_KEY: its first items are written with the crons switched off, so no minute's
// worker could have done it.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { useTestDatabase } from '#test/database.ts'
import { type LocalServer, startLocalServer } from '#test/local-server.ts'

const getDatabase = useTestDatabase()
const ADMIN_KEY = `apm_${randomBytes(16).toString('hex')}`
let server: LocalServer | undefined

beforeAll(async () => {
  server = await startLocalServer({
    DATABASE_URL: getDatabase().url,
    ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY),
    LOCAL_CRONS: 'off',
    LOG_LEVEL: 'warn',
  })
}, 120_000)

afterAll(async () => {
  await server?.stop()
})

type Job = { id: string; status: string; progress: { itemsWritten: number } }

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(`${server?.base}/v1/${path}`, {
    ...init,
    headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' },
  })
  return { status: res.status, body: (await res.json()) as { job: Job; version?: string } }
}

describe('npm start: a started backfill runs at once', () => {
  it('writes its first items with no cron running, through the worker the start asked for', async () => {
    const started = await call('backfill-jira', { method: 'POST', body: '{"days": 3650}' })
    expect(started.status, JSON.stringify(started.body)).toBe(202)
    let job = started.body.job
    let version = ''
    // Long polls until something is written: each answers when the job changes (at most 20 s).
    for (let polls = 0; polls < 12 && job.progress.itemsWritten === 0; polls += 1) {
      const since = version ? `&since=${version}` : ''
      const shown = await call(`backfill-jira/${job.id}?waitSeconds=20${since}`)
      expect(shown.status).toBe(200)
      job = shown.body.job
      version = shown.body.version ?? ''
      if (job.status === 'failed') {
        break
      }
    }
    expect(job.status).not.toBe('failed')
    expect(job.progress.itemsWritten).toBeGreaterThan(0)
  })
})
