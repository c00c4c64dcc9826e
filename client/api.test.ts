import { assert, beforeEach, describe, expect, it } from 'vitest'
import { CLIENT_ADMIN_KEY, clientWorld, refusing, type WorldOptions } from '#test/client-world.ts'
import { useTestDatabase } from '#test/database.ts'
import { useFakeGoogle } from '#test/fakes.ts'
import { FUNCTIONS_BASE } from '#test/functions-fetch.ts'
import { createApiClient } from './api.ts'
import { memorySession } from './session.ts'
import type { JobView, Session } from './types.ts'

// The client against the real login and backfill routes (test/client-world.ts), over this file's
// database, through a fetch that hands requests to the functions.

const getDatabase = useTestDatabase()
const NOW = new Date('2026-06-01T12:00:00.000Z')
const google = useFakeGoogle({ now: NOW })
const ADMIN_KEY = CLIENT_ADMIN_KEY
const HOUR = 3_600_000

beforeEach(async () => {
  await getDatabase().pool.query('delete from jobs')
})

const world = (options: Omit<WorldOptions, 'database' | 'google'> = {}) =>
  clientWorld({ database: getDatabase(), google, ...options })

const credential = (email = 'admin@example.com') =>
  google.mintIdToken({ email, sub: `sub-${email}`, name: 'Ada' })

/** The path and query of each request the functions received, e.g. `GET /refresh`. */
const seen = (fetch: ReturnType<typeof world>['fetch']) =>
  fetch.requests.map((r) => `${r.method} ${r.fn}${r.path}${r.query}`)

describe('client', () => {
  describe('sessions', () => {
    it('signs in with a Google credential, says who is signed in, and signs out everywhere', async () => {
      const { client, fetch } = world()
      const changes: Array<Session | null> = []
      const api = client({ onSessionChange: (session) => changes.push(session) })
      const signedIn = await api.signIn(await credential())
      assert(signedIn.ok, JSON.stringify(signedIn))
      expect(signedIn.value.user).toMatchObject({ email: 'admin@example.com', role: 'admin' })
      expect(api.session()).toEqual(signedIn.value)
      const me = await api.me()
      assert(me.ok, JSON.stringify(me))
      expect(me.value.email).toBe('admin@example.com')

      // Another page of the same person keeps the old token; signing out ends it there too.
      const other = client({ session: memorySession(signedIn.value) })
      const out = await api.signOut()
      expect(out.ok).toBe(true)
      expect(api.session()).toBeNull()
      expect(changes.map((session) => session?.user.email ?? null)).toEqual([
        'admin@example.com',
        null,
      ])
      const ended = await other.me()
      assert(!ended.ok)
      expect(ended.error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 })
      expect(ended.error.requestId).toMatch(/\S/)
      expect(other.session()).toBeNull()
      const before = fetch.requests.length
      const signedOut = await api.me()
      assert(!signedOut.ok)
      expect(signedOut.error.code).toBe('UNAUTHENTICATED')
      expect(fetch.requests).toHaveLength(before) // nothing to send
    })

    it('renews the token shortly before it expires, once for calls made together', async () => {
      const { client, clock, fetch } = world()
      const api = client()
      const signedIn = await api.signIn(await credential())
      assert(signedIn.ok)
      await api.me()
      expect(seen(fetch)).toEqual(['POST login', 'GET login'])

      clock.advance(24 * HOUR - 4 * 60_000) // 4 minutes left: inside the 5-minute margin
      const [a, b] = await Promise.all([api.me(), api.me()])
      expect(a.ok && b.ok).toBe(true)
      expect(seen(fetch).slice(2)).toEqual(['POST login/refresh', 'GET login', 'GET login'])
      const renewed = api.session()
      expect(renewed?.token).not.toBe(signedIn.value.token)
      expect(Date.parse(renewed?.expiresAt ?? '')).toBe(clock.now().getTime() + 24 * HOUR)
    })

    it('keeps the current token when a renewal is refused, and asks again after Retry-After', async () => {
      const { client, clock, fetch } = world({
        limiter: (real) => refusing(real, 'login', (call) => call === 2, 60),
      })
      const api = client()
      const signedIn = await api.signIn(await credential())
      assert(signedIn.ok)
      clock.advance(24 * HOUR - 4 * 60_000)
      expect((await api.me()).ok).toBe(true) // the renewal got 429; the old token still works
      expect((await api.me()).ok).toBe(true) // no second attempt within its Retry-After
      expect(api.session()?.token).toBe(signedIn.value.token)
      clock.advance(61_000)
      expect((await api.me()).ok).toBe(true)
      expect(api.session()?.token).not.toBe(signedIn.value.token)
      expect(seen(fetch).slice(1)).toEqual([
        'POST login/refresh',
        'GET login',
        'GET login',
        'POST login/refresh',
        'GET login',
      ])
    })
  })

  describe('backfills', () => {
    const asAdmin = { adminKey: ADMIN_KEY }

    it('starts, lists, shows, cancels and resumes with the admin key', async () => {
      const api = world().client(asAdmin).backfills.jira
      const started = await api.start({ days: 30, projects: ['OPS', 'WEB'] })
      assert(started.ok, JSON.stringify(started))
      const { job } = started.value
      expect(job.progress.chunksTotal).toBe(2)
      expect(started.value.url).toBe(`/api/v1/web/local/v1/backfill-jira/${job.id}`)
      expect(started.meta.status).toBe(202)
      const listed = await api.list({ limit: 5 })
      expect(listed.ok && listed.value.map((j) => j.id)).toEqual([job.id])
      const shown = await api.get(job.id)
      expect(shown.ok && shown.value.job).toEqual(job)
      expect(shown.ok && shown.value.version).toMatch(/^[0-9a-f]{16}$/)
      const cancelled = await api.cancel(job.id)
      expect(cancelled.ok && cancelled.value.job.status).toBe('cancelled')
      const resumed = await api.resume(job.id)
      expect(resumed.ok && resumed.value.job.status).toBe('queued')
    })

    it('answers refusals as errors typed by code, each with the request id', async () => {
      const { client } = world()
      const api = client(asAdmin).backfills.jira
      const bad = await api.start({ days: 0 })
      assert(!bad.ok && bad.error.code === 'BAD_REQUEST')
      expect(bad.error.details.issues?.map((issue) => issue.path)).toEqual(['days'])
      expect(bad.error.requestId).toMatch(/\S/)
      const first = await api.start({})
      assert(first.ok)
      const again = await api.start({})
      assert(!again.ok && again.error.code === 'CONFLICT')
      expect(again.error.details.job?.id).toBe(first.value.job.id)
      const missing = await api.get('00000000-0000-4000-8000-000000000000')
      assert(!missing.ok)
      expect(missing.error).toMatchObject({ code: 'NOT_FOUND', status: 404 })
      const noKey = await client().backfills.jira.list()
      assert(!noKey.ok)
      expect(noKey.error.code).toBe('UNAUTHENTICATED')
    })

    it('follows a job to its end with long polls, reporting each change once', async () => {
      // The worker's part, played between the server's reads: a page at the 2nd read; nothing for
      // the next 20 s (40 reads: that long poll answers unchanged); then the rest at the 45th.
      const { client, fetch, sleeps } = world({
        onServerTick: async (tick, services) => {
          const lease = async () => {
            const claimed = await services.jobs.claim({ kinds: ['synthetic'], leaseMs: HOUR })
            assert(claimed)
            return claimed.lease
          }
          if (tick === 2) {
            await services.jobs.checkpoint(
              await lease(),
              { page: 1 },
              { fetched: 5, written: 5 },
              HOUR,
            )
          }
          if (tick === 45) {
            const held = await services.jobs.claim({ kinds: ['synthetic'], leaseMs: HOUR })
            // The chunk is still leased by the first claim: take it over once the lease is gone.
            expect(held).toBeNull()
            await services.pool.query(
              "update job_chunks set lease_expires_at = now() - interval '1 second'",
            )
            const chunk = await lease()
            await services.jobs.checkpoint(chunk, { page: 2 }, { fetched: 5, written: 5 }, HOUR)
            await services.jobs.complete(chunk)
          }
        },
      })
      const api = client(asAdmin).backfills.jira
      const started = await api.start({ projects: ['OPS'] })
      assert(started.ok)
      const updates: string[] = []
      const done = await api.follow(started.value.job.id, {
        onUpdate: (job: JobView) => updates.push(`${job.status} ${job.progress.itemsWritten}`),
      })
      assert(done.ok, JSON.stringify(done))
      expect(done.value.status).toBe('succeeded')
      expect(updates).toEqual(['queued 0', 'running 5', 'succeeded 10'])
      const polls = fetch.requests.filter((r) => r.method === 'GET')
      expect(polls.map((r) => new URLSearchParams(r.query).get('waitSeconds'))).toEqual([
        null,
        '20',
        '20',
        '20',
      ])
      expect(polls.slice(1).every((r) => new URLSearchParams(r.query).has('since'))).toBe(true)
      // The first long poll right after the first look; later ones start at least the pace the
      // answers' budget allows apart (an admin key's 3,600 an hour: one per 3 s, half the budget).
      // Only the first long poll answered sooner than that (at the 2nd read, after 1 s), so one
      // pause of 2 s; the 20-second one needs none.
      expect(sleeps).toEqual([2000])
    })

    it('waits out a 429 for its Retry-After, then goes on following', async () => {
      const { client, sleeps } = world({
        limiter: (real) => refusing(real, 'principal-hour', (call) => call === 3, 7),
        onServerTick: async (_tick, services) => {
          await services.jobs.cancel((await services.jobs.listJobs({ limit: 1 }))[0]?.id ?? '')
        },
      })
      const api = client(asAdmin).backfills.jira
      const started = await api.start({}) // request 1
      assert(started.ok)
      const waits: Array<{ seconds: number; code: string }> = []
      const done = await api.follow(started.value.job.id, {
        onWait: ({ seconds, error }) => waits.push({ seconds, code: error.code }),
      })
      assert(done.ok, JSON.stringify(done))
      expect(done.value.status).toBe('cancelled')
      expect(waits).toEqual([{ seconds: 7, code: 'RATE_LIMITED' }])
      expect(sleeps).toContain(7000)
    })

    it('stops following after 10 refusals in a row, and leaves the job alone', async () => {
      const { client, services } = world({
        limiter: (real) => refusing(real, 'principal-hour', (call) => call > 1, 30),
      })
      const api = client(asAdmin).backfills.jira
      const started = await api.start({})
      assert(started.ok)
      const waits: number[] = []
      const stopped = await api.follow(started.value.job.id, {
        onWait: ({ seconds }) => waits.push(seconds),
      })
      assert(!stopped.ok)
      expect(stopped.error).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 30 })
      expect(waits).toEqual(Array(9).fill(30))
      expect((await services.jobs.getJob(started.value.job.id))?.status).toBe('queued')
    })
  })

  describe('errors', () => {
    it('reports no answer as NETWORK_ERROR and a platform error page as INVALID_RESPONSE', async () => {
      const down = createApiClient({
        baseUrl: FUNCTIONS_BASE,
        adminKey: ADMIN_KEY,
        fetch: async () => {
          throw new TypeError('fetch failed')
        },
      })
      const none = await down.backfills.tempo.list()
      assert(!none.ok)
      expect(none.error).toMatchObject({ code: 'NETWORK_ERROR', status: 0, requestId: null })

      const platform = createApiClient({
        baseUrl: FUNCTIONS_BASE,
        adminKey: ADMIN_KEY,
        fetch: async () =>
          Response.json(
            { error: 'The action did not produce a valid response.' },
            { status: 502, headers: { 'x-request-id': 'req-platform-1' } },
          ),
      })
      const page = await platform.backfills.tempo.list()
      assert(!page.ok)
      expect(page.error).toMatchObject({
        code: 'INVALID_RESPONSE',
        status: 502,
        requestId: 'req-platform-1',
      })
    })
  })
})
