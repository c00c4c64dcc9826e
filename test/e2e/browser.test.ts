// A front end's view, in Chromium: a page on its own origin uses the typed client (bundled for
// browsers) against the local server (`npm start`, with the sandbox) in production mode, where
// CORS lets exactly WEB_BASE_URL in.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiClient, createApiClient } from '#client/api.ts'
import {
  bundleClient,
  launchChromium,
  type PageServer,
  requireChromium,
  startPageServer,
} from '#test/browser.ts'
import { useTestDatabase } from '#test/database.ts'
import { type LocalServer, startLocalServer } from '#test/local-server.ts'
import { useUpstashBridge } from '#test/redis.ts'

/** What the page's window holds: the bundled client, the test's client and its requests. */
type PageWindow = {
  agentPm: { createApiClient: typeof createApiClient }
  api: ApiClient
  calls: string[]
}

const getDatabase = useTestDatabase()
// Production mode needs the rate-limit store: the local server puts its bridge on this file's
// Redis database.
const { redisAvailable, redisUrl } = useUpstashBridge()

let browser: Browser | undefined
let pages: PageServer | undefined
let server: LocalServer | undefined
let page: Page
let allowed = '' // the page's origin, WEB_BASE_URL
let other = '' // the same page on another origin
const consoleErrors: string[] = []

const api = () => server?.base ?? ''

beforeAll(async () => {
  if (!redisAvailable) {
    return
  }
  browser = await launchChromium()
  pages = await startPageServer({
    script: await bundleClient(),
    sandboxOrigin: () => server?.origin ?? '',
  })
  allowed = `http://127.0.0.1:${pages.port}`
  other = `http://localhost:${pages.port}`
  server = await startLocalServer({
    DATABASE_URL: getDatabase().url,
    REDIS_URL: redisUrl(),
    APP_ENV: 'production',
    WEB_BASE_URL: allowed,
    LOG_LEVEL: 'warn',
    // Without the key no worker is asked for at a start: the test runs the worker itself, once the
    // page follows the job, so that the page sees it queued first (test/e2e/start-now.test.ts
    // covers the worker a start asks for).
    FUNCTIONS_ACCESS_KEY: '',
  })
  page = await browser.newPage()
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(message.text())
    }
  })
  await page.goto(`${allowed}/`)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
  await pages?.close()
})

// Without Chromium this fails, saying how to install it; it is never skipped for that.
it('finds Chromium to drive', () => {
  requireChromium()
})

describe.skipIf(!redisAvailable)('a page on another origin, in Chromium', () => {
  it('signs in through the sandbox Google and reads who it is', async () => {
    const result = await page.evaluate(async (base) => {
      const w = globalThis as unknown as PageWindow
      w.calls = []
      w.api = w.agentPm.createApiClient({
        baseUrl: base,
        fetch: (input, init) => {
          w.calls.push(String(input))
          return fetch(input, init)
        },
      })
      const minted = await fetch('/google-token', {
        method: 'POST',
        body: JSON.stringify({ email: 'admin@example.com' }),
      })
      const { credential } = (await minted.json()) as { credential: string }
      const signedIn = await w.api.signIn(credential)
      const me = await w.api.me()
      return {
        role: signedIn.ok ? signedIn.value.user.role : signedIn.error.code,
        email: me.ok ? me.value.email : me.error.code,
        requestId: me.ok ? me.meta.requestId : null,
        remaining: me.ok ? me.meta.rateLimit?.remaining : null,
      }
    }, api())
    expect(result).toMatchObject({ role: 'admin', email: 'admin@example.com' })
    expect(result.requestId).toMatch(/\S/) // X-Request-Id is readable from script
    expect(result.remaining).toBeGreaterThan(0) // and so are the RateLimit-* headers
  })

  it('starts a Jira backfill and follows it to the end with long polls', async () => {
    const started = await page.evaluate(async () => {
      const w = globalThis as unknown as PageWindow
      const result = await w.api.backfills.jira.start({ days: 7, projects: ['OPS'] })
      return result.ok ? result.value.job : result.error
    })
    expect(started).toMatchObject({ status: 'queued', kind: 'backfill-jira' })
    const jobId = (started as { id: string }).id
    const following = page.evaluate(async (id) => {
      const w = globalThis as unknown as PageWindow
      w.calls = []
      const updates: string[] = []
      const done = await w.api.backfills.jira.follow(id, {
        onUpdate: (job) => updates.push(job.status),
        minIntervalMs: 200,
        maxIntervalMs: 1000,
      })
      return {
        status: done.ok ? done.value.status : done.error.code,
        written: done.ok ? done.value.progress.itemsWritten : 0,
        updates,
        calls: w.calls,
      }
    }, jobId)
    // The worker starts once the page's long poll waits (its second request).
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as PageWindow).calls.length))
      .toBeGreaterThanOrEqual(2)
    const run = await server?.invoke('jobs/worker', { trigger: 'worker' })
    expect(run).toMatchObject({ ok: true })
    const followed = await following
    expect(followed.status).toBe('succeeded')
    expect(followed.written).toBeGreaterThan(0)
    expect(followed.updates[0]).toBe('queued')
    expect(followed.updates.at(-1)).toBe('succeeded')
    expect(followed.calls[1]).toMatch(/\?waitSeconds=20&since=[0-9a-f]{16}$/)
    expect(followed.calls.length).toBeLessThanOrEqual(6)
  })

  it('cancels another backfill', async () => {
    const result = await page.evaluate(async () => {
      const w = globalThis as unknown as PageWindow
      const tempo = w.api.backfills.tempo
      const started = await tempo.start({ days: 30 })
      if (!started.ok) {
        return { error: started.error.code }
      }
      const cancelled = await tempo.cancel(started.value.job.id)
      const final = await tempo.follow(started.value.job.id, { maxIntervalMs: 1000 })
      return {
        cancelRequested: cancelled.ok && cancelled.value.job.cancelRequested,
        status: final.ok ? final.value.status : final.error.code,
      }
    })
    expect(result).toEqual({ cancelRequested: true, status: 'cancelled' })
  })

  it("reads a 429's Retry-After and the error's code from script", async () => {
    // Sign-in and renewal share 10 a minute per address; the sign-in above used one, which the
    // sliding window still counts unless the minute it fell in has since turned over.
    const refused = await page.evaluate(async (base) => {
      const w = globalThis as unknown as PageWindow
      const token = w.api.session()?.token ?? ''
      for (let n = 0; n < 12; n++) {
        const res = await fetch(`${base}/v1/login/refresh`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        })
        if (res.status === 429) {
          const body = (await res.json()) as { error: { code: string; requestId: string } }
          return {
            after: n,
            retryAfter: res.headers.get('Retry-After'),
            remaining: res.headers.get('RateLimit-Remaining'),
            requestId: res.headers.get('X-Request-Id'),
            body,
          }
        }
      }
      return null
    }, api())
    expect(refused).not.toBeNull()
    expect(refused?.after).toBeGreaterThanOrEqual(9)
    expect(refused?.after).toBeLessThanOrEqual(10)
    expect(refused?.retryAfter).toMatch(/^\d+$/)
    expect(Number(refused?.retryAfter)).toBeGreaterThan(0)
    expect(Number(refused?.retryAfter)).toBeLessThanOrEqual(60)
    expect(refused?.remaining).toBe('0')
    expect(refused?.body.error.code).toBe('RATE_LIMITED')
    expect(refused?.requestId).toBe(refused?.body.error.requestId)
    expect(consoleErrors.some((text) => text.includes('429'))).toBe(true)
  })

  it('is refused from an origin other than WEB_BASE_URL', async () => {
    const stranger = await browser?.newPage()
    if (!stranger) {
      throw new Error('no browser')
    }
    const strangerErrors: string[] = []
    stranger.on('console', (message) => strangerErrors.push(message.text()))
    await stranger.goto(`${other}/`)
    const result = await stranger.evaluate(async (base) => {
      const w = globalThis as unknown as PageWindow
      const plain = await fetch(`${base}/v1/health`).then(
        (res) => `read ${res.status}`,
        (err: unknown) => String(err),
      )
      const client = w.agentPm.createApiClient({ baseUrl: base })
      const signIn = await client.signIn('x')
      return { plain, signIn: signIn.ok ? 'signed in' : signIn.error.code }
    }, api())
    expect(result).toEqual({ plain: 'TypeError: Failed to fetch', signIn: 'NETWORK_ERROR' })
    expect(strangerErrors.join('\n')).toContain('blocked by CORS policy')
    await stranger.close()
    // The server's side of it: a preflight from that origin gets no Access-Control-Allow-Origin.
    const preflight = await fetch(`${api()}/v1/login`, {
      method: 'OPTIONS',
      headers: { origin: other, 'access-control-request-method': 'POST' },
    })
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
    const fromAllowed = await fetch(`${api()}/v1/login`, {
      method: 'OPTIONS',
      headers: { origin: allowed, 'access-control-request-method': 'POST' },
    })
    expect(fromAllowed.headers.get('access-control-allow-origin')).toBe(allowed)
  })
})
