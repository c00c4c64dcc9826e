import { randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { adminKeyDigest } from '#core/auth/admin-key.ts'
import { webEntry } from '#core/platform/web-entry.ts'
import type { RateLimiter } from '#core/rate-limit/rules.ts'
import { createUpstashRateLimiter } from '#core/rate-limit/upstash.ts'
import { createUpstashRedis } from '#core/rate-limit/upstash-client.ts'
import { jobs } from '#db/schema.ts'
import { createPipelineRegistry } from '#pipelines/registry.ts'
import { createBackfillJiraHandler } from '../functions/v1/backfill-jira/handler.ts'
import { createBackfillTempoHandler } from '../functions/v1/backfill-tempo/handler.ts'
import { fixedClock } from './clock.ts'
import { useFakeJira } from './fakes.ts'
import { aUser, bearer, type ErrorBody, tokenFor, webCaller } from './harness.ts'
import { captureLog } from './log.ts'
import { NOW, type Res, useLoginFunction } from './login.ts'
import { useUpstashBridge } from './redis.ts'
import { testServices } from './services.ts'
import { upstreamEnv } from './upstreams.ts'

// The limits of README "Rate limits", exact under concurrency: real Redis through the Upstash
// bridge, requests sent all at once. With the bridge slower than the limiter's timeout, sign-in and
// backfill starts fail closed (503) and the per-request limits fail open, as the README's table says.

const { redisAvailable, bridge } = useUpstashBridge()
const login = useLoginFunction()
const jira = useFakeJira({ now: NOW })
const TIMEOUT_MS = 300
const SLOWER_THAN_TIMEOUT_MS = TIMEOUT_MS + 400
const SECRET = 'limits-concurrency-secret-at-least-32-bytes'
const ADMIN_KEY = `apm_${randomBytes(16).toString('hex')}`

function upstashLimiter(): RateLimiter {
  const redis = createUpstashRedis({ url: bridge().url, token: bridge().token })
  return createUpstashRateLimiter({ redis, timeoutMs: TIMEOUT_MS })
}

/** How many answers had each status, e.g. `{ 200: 10, 429: 90 }`. */
function countStatuses(answers: readonly Res[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const answer of answers) {
    counts[answer.statusCode] = (counts[answer.statusCode] ?? 0) + 1
  }
  return counts
}

/** Every refusal is the envelope with its code, a request id equal to X-Request-Id. */
function expectEnvelopes(answers: readonly Res[], status: number, code: string) {
  for (const answer of answers.filter((a) => a.statusCode === status)) {
    const { error } = answer.body as ErrorBody
    expect(error.code).toBe(code)
    expect(error.requestId).toBe(answer.headers['X-Request-Id'])
    expect(Number(answer.headers['Retry-After'])).toBeGreaterThan(0)
  }
}

const all = <T>(count: number, send: (n: number) => Promise<T>) =>
  Promise.all(Array.from({ length: count }, (_, n) => send(n)))

describe.skipIf(!redisAvailable)(
  'limits under concurrency, on Redis through the Upstash bridge',
  () => {
    describe('sign-in: 10 a minute per address', () => {
      it('allows exactly 10 of 100 concurrent sign-ins from one address and answers the other 90 429', async () => {
        const fn = login.loginFunction({ rateLimiter: upstashLimiter() })
        const credential = await login.credentialOf(await login.aMember())
        const answers = await all(100, () => fn.signIn({ credential }, { ip: '198.51.100.201' }))
        expect(countStatuses(answers)).toEqual({ 200: 10, 429: 90 })
        expectEnvelopes(answers, 429, 'RATE_LIMITED')
        // Another address keeps its own 10.
        const other = await fn.signIn({ credential }, { ip: '198.51.100.202' })
        expect(other.statusCode, JSON.stringify(other.body)).toBe(200)
      })

      it('refuses all 100 with 503 when the store answers slower than the timeout, writing nothing', async () => {
        const fn = login.loginFunction({ rateLimiter: upstashLimiter() })
        const credential = await login.credentialOf(await login.aMember())
        const before = await login.allUsers()
        bridge().setDelay(SLOWER_THAN_TIMEOUT_MS)
        try {
          const answers = await all(100, () => fn.signIn({ credential }, { ip: '198.51.100.203' }))
          expect(countStatuses(answers)).toEqual({ 503: 100 })
          expectEnvelopes(answers, 503, 'UNAVAILABLE')
        } finally {
          bridge().setDelay(0)
        }
        expect(await login.allUsers()).toEqual(before)
      })

      it('lets 100 concurrent requests past the per-request limits when the store is slow (fail open), logged', async () => {
        const fn = login.loginFunction({ rateLimiter: upstashLimiter() })
        const token = await login.tokenFor(fn, await login.aMember())
        bridge().setDelay(SLOWER_THAN_TIMEOUT_MS)
        try {
          const answers = await all(100, () =>
            fn.call({ headers: bearer(token), ip: '198.51.100.204' }),
          )
          expect(countStatuses(answers)).toEqual({ 200: 100 })
        } finally {
          bridge().setDelay(0)
        }
        const warnings = fn.lines.filter(
          (line) => line.msg === 'rate-limit store unavailable; allowing',
        )
        expect(warnings).toHaveLength(100)
      })
    })

    describe('backfill starts: one active job per kind, 3 (Jira) and 5 (Tempo) starts an hour per principal', () => {
      function backfillFunction(kind: 'jira' | 'tempo') {
        const captured = captureLog()
        const services = testServices({
          database: login.getDatabase(),
          clock: fixedClock(NOW),
          log: captured.log,
          rateLimiter: upstashLimiter(),
          env: {
            JWT_SECRET_KEY: SECRET,
            ADMIN_API_KEY_SHA256: adminKeyDigest(ADMIN_KEY),
            ...upstreamEnv({ jira }),
            TEMPO_API_TOKEN: 'unused-tempo-token',
            PINECONE_API_KEY: 'unused-pinecone-key',
            PINECONE_INDEX_HOST: 'http://127.0.0.1:9',
          },
        })
        const create = kind === 'jira' ? createBackfillJiraHandler : createBackfillTempoHandler
        const main = webEntry({
          services: () => services,
          handler: (s) => create({ ...s, registry: createPipelineRegistry(s) }),
          fallbackLog: captured.log,
        })
        const call = webCaller(main, {
          functionName: `/local/v1/backfill-${kind}`,
          newAddressPerCall: true,
        })
        return (headers: Record<string, string>) =>
          call({ method: 'POST', headers, body: { days: 30, projects: ['OPS'] } }) as Promise<Res>
      }
      const jobsOf = async (kind: string) =>
        (await login.getDatabase().db.select().from(jobs).where(eq(jobs.kind, kind))).length
      const cancelAll = () => login.getDatabase().pool.query("update jobs set status = 'cancelled'")

      it('creates exactly one Jira job from 50 concurrent starts of one admin key: 1 × 202, 2 × 409, 47 × 429', async () => {
        await cancelAll()
        const start = backfillFunction('jira')
        const before = await jobsOf('backfill-jira')
        const answers = await all(50, () => start({ 'x-admin-key': ADMIN_KEY }))
        expect(countStatuses(answers)).toEqual({ 202: 1, 409: 2, 429: 47 })
        expectEnvelopes(answers, 429, 'RATE_LIMITED')
        expect(await jobsOf('backfill-jira')).toBe(before + 1)
      })

      it('creates exactly one Tempo job from 50 admins starting at once: 1 × 202, 49 × 409', async () => {
        await cancelAll()
        const start = backfillFunction('tempo')
        const admins = await all(50, async () =>
          tokenFor(await aUser(login.getDatabase().db, { role: 'admin' }), {
            secret: SECRET,
            clock: fixedClock(NOW),
          }),
        )
        const before = await jobsOf('backfill-tempo')
        const answers = await all(50, (n) => start(bearer(admins[n] ?? '')))
        expect(countStatuses(answers)).toEqual({ 202: 1, 409: 49 })
        for (const conflict of answers.filter((a) => a.statusCode === 409)) {
          expect((conflict.body as ErrorBody).error.code).toBe('CONFLICT')
        }
        expect(await jobsOf('backfill-tempo')).toBe(before + 1)
      })

      it('refuses all 50 concurrent starts with 503 and creates no job when the store is slower than the timeout', async () => {
        await cancelAll()
        const start = backfillFunction('jira')
        const before = await jobsOf('backfill-jira')
        bridge().setDelay(SLOWER_THAN_TIMEOUT_MS)
        try {
          const answers = await all(50, () => start({ 'x-admin-key': `${ADMIN_KEY}` }))
          expect(countStatuses(answers)).toEqual({ 503: 50 })
          expectEnvelopes(answers, 503, 'UNAVAILABLE')
        } finally {
          bridge().setDelay(0)
        }
        expect(await jobsOf('backfill-jira')).toBe(before)
      })
    })
  },
)
