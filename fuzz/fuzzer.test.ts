import fc from 'fast-check'
import { describe, expect, inject, it } from 'vitest'
import { useUpstashBridge } from '#test/redis.ts'
import type { Credentials } from './credentials.ts'
import { type FuzzReport, runFuzz } from './fuzzer.ts'
import { readOperations } from './operations.ts'
import { checkAnswer, leavesStateAlone } from './oracles.ts'
import { anyPlan, type Plan } from './plans.ts'
import { changes } from './state.ts'
import type { Answer } from './targets.ts'
import { toWire } from './wire.ts'

// The seeded share of the fuzzer that runs with every `npm test`; `npm run fuzz` runs any number.
// Without REDIS_URL (outside CI) the limits are counted in process instead.
const { redisUrl } = useUpstashBridge()
const redis = () => (process.env.REDIS_URL ? redisUrl() : undefined)
const SEED = 20_261_203

const { operations, schemas } = readOperations()

// Every operation was sent, and answered more than refusals: the requests reached the handlers.
function expectDeepReach(report: FuzzReport) {
  expect(Object.keys(report.byRoute).sort()).toEqual(operations.map((op) => op.name).sort())
  for (const status of [
    '200',
    '202',
    '204',
    '400',
    '401',
    '403',
    '404',
    '405',
    '409',
    '413',
    '415',
  ]) {
    expect(
      report.byStatus[status],
      `status ${status}: ${JSON.stringify(report.byStatus)}`,
    ).toBeGreaterThan(0)
  }
  expect(report.stateChecks.compared).toBeGreaterThan(0)
}

describe('the fuzzer', () => {
  it('finds no 5xx, no answer without the envelope and no state changed by a refusal, in process', async () => {
    const report = await runFuzz({
      requests: 2000,
      seed: SEED,
      databaseUrl: inject('databaseUrl'),
      redisUrl: redis(),
    })
    expect(report.violations, JSON.stringify(report.violations.slice(0, 5), null, 2)).toEqual([])
    expect(report.requests).toBe(2000)
    expectDeepReach(report)
  }, 240_000)

  it('finds none over HTTP against the local server either', async () => {
    const report = await runFuzz({
      target: 'http',
      requests: 400,
      seed: SEED + 1,
      databaseUrl: inject('databaseUrl'),
      redisUrl: redis(),
    })
    expect(report.violations, JSON.stringify(report.violations.slice(0, 5), null, 2)).toEqual([])
    expect(report.requests).toBe(400)
    expect(report.stateChecks.compared).toBeGreaterThan(0)
  }, 240_000)
})

const credentials: Credentials = {
  headers: (kind) => (kind === 'none' ? {} : { authorization: `Bearer ${kind}` }),
  google: (kind) => `google-${kind}`,
  janitor: {},
  renew: async () => {},
}
const anAnswer = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json', 'x-request-id': 'act-1', ...headers },
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
})
const aPlan = (overrides: Partial<Plan> = {}): Plan => ({
  operation: 'GET /v1/backfill-jira',
  fn: 'backfill-jira',
  method: 'GET',
  path: '',
  jobId: { kind: 'literal', text: 'x' },
  query: [],
  headers: {},
  contentType: 'default',
  body: { kind: 'none' },
  credential: 'admin-key',
  pick: 0,
  hostile: false,
  mutations: [],
  ...overrides,
})
const check = (plan: Plan, answer: Answer) =>
  checkAnswer(plan, toWire(plan, { credentials, knownJobs: [], clientIp: '10.0.0.1' }), answer).map(
    (violation) => violation.kind,
  )

describe('the oracles', () => {
  const envelope = { error: { code: 'BAD_REQUEST', message: 'No.', requestId: 'act-1' } }

  it('pass the error envelope whose request id is the answer’s X-Request-Id', () => {
    expect(check(aPlan(), anAnswer(400, envelope))).toEqual([])
    expect(check(aPlan({ method: 'HEAD' }), anAnswer(405, ''))).toEqual([])
  })

  it('flag a 5xx, however it is written', () => {
    const internal = { error: { code: 'INTERNAL', message: 'x', requestId: 'act-1' } }
    expect(check(aPlan(), anAnswer(500, internal))).toEqual(['server-error'])
    expect(check(aPlan(), anAnswer(502, 'Bad gateway', { 'content-type': 'text/html' }))).toEqual([
      'server-error',
    ])
  })

  it('leave a 431 over HTTP to the server that refused the head, and flag it in process', () => {
    const wire = toWire(aPlan(), { credentials, knownJobs: [], clientIp: '10.0.0.1' })
    const bare = anAnswer(431, '', { 'content-type': '' })
    expect(checkAnswer(aPlan(), wire, bare, true)).toEqual([])
    expect(checkAnswer(aPlan(), wire, bare, false).map((v) => v.kind)).toEqual(['not-an-envelope'])
    expect(
      checkAnswer(aPlan(), wire, anAnswer(430, '', { 'content-type': '' }), true),
    ).toHaveLength(1)
  })

  it('flag a 4xx that is not the envelope', () => {
    const bodies: Array<[unknown, Record<string, string>?]> = [
      ['not json'],
      [{ error: 'There was an error processing your request.', code: 'act-1' }],
      [{ error: { ...envelope.error, requestId: 'another' } }],
      [{ error: { ...envelope.error, requestId: '' } }],
      [{ error: { ...envelope.error, code: 'NOT_FOUND' } }],
      [{ error: { ...envelope.error, code: 'TEAPOT' } }],
      [{ error: { ...envelope.error, stack: 'at x' } }],
      [{ ...envelope, extra: 1 }],
      [envelope, { 'content-type': 'text/plain' }],
      [envelope, { 'x-request-id': 'act-2' }],
    ]
    for (const [body, headers] of bodies) {
      expect(check(aPlan(), anAnswer(400, body, headers)), JSON.stringify(body)).toEqual([
        'not-an-envelope',
      ])
    }
    expect(
      check(aPlan({ method: 'HEAD' }), { status: 405, headers: {}, body: Buffer.alloc(0) }),
    ).toEqual(['not-an-envelope'])
  })

  it('flag an admin route answered 2xx to bad credentials or to a non-admin', () => {
    for (const credential of [
      'none',
      'forged-token',
      'wrong-key',
      'member-token',
      'monitor-token',
    ] as const) {
      expect(check(aPlan({ credential }), anAnswer(200, { jobs: [] })), credential).toEqual([
        'accepted-without-credentials',
      ])
    }
    expect(check(aPlan({ credential: 'admin-token' }), anAnswer(200, { jobs: [] }))).toEqual([])
    const signIn = aPlan({ fn: 'login', method: 'POST', path: '/', credential: 'none' })
    expect(check(signIn, anAnswer(200, { token: 't' }))).toEqual([])
    expect(check({ ...signIn, method: 'post' }, anAnswer(200, { token: 't' }))).toEqual([])
    const me = aPlan({ fn: 'login', method: 'GET', credential: 'expired-token' })
    expect(check(me, anAnswer(200, { user: {} }))).toEqual(['accepted-without-credentials'])
  })

  it('compare the state around refusals and reads only', () => {
    const wire = (method: string) =>
      toWire(aPlan({ method }), { credentials, knownJobs: [], clientIp: '10.0.0.1' })
    expect(leavesStateAlone(wire('POST'), anAnswer(400, envelope))).toBe(true)
    expect(leavesStateAlone(wire('GET'), anAnswer(200, {}))).toBe(true)
    expect(leavesStateAlone(wire('POST'), anAnswer(202, {}))).toBe(false)
    const pending = { error: { ...envelope.error, code: 'ACCESS_PENDING' } }
    expect(leavesStateAlone(wire('POST'), anAnswer(403, pending))).toBe(false)
    expect(changes({ jobs: '1 rows a' }, { jobs: '1 rows a' })).toEqual([])
    expect(changes({ jobs: '1 rows a' }, { jobs: '2 rows b', 'redis x': 'y' })).toEqual([
      'jobs: 1 rows a → 2 rows b',
      'redis x: ∅ → y',
    ])
  })
})

describe('the generated requests', () => {
  it('are all sendable: any plan becomes a request with a path, a query and body bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.boolean().chain((hostile) => anyPlan(operations, schemas, hostile)),
        (plan) => {
          const wire = toWire(plan, {
            credentials,
            knownJobs: ['4f1c1d1e-0000-4000-8000-000000000001'],
            clientIp: '10.0.0.1',
          })
          expect(wire.fn).toBe(plan.fn)
          expect(plan.jobId.kind === 'literal' || !wire.path.includes('{jobId}')).toBe(true)
          expect(Buffer.isBuffer(wire.body)).toBe(true)
          expect(plan.hostile).toBe(plan.mutations.length > 0)
        },
      ),
      { numRuns: 200, seed: SEED },
    )
  })

  it('cover every operation of openapi.json', () => {
    expect(operations.map((op) => op.name)).toContain('POST /v1/backfill-tempo/{jobId}/resume')
    expect(operations).toHaveLength(16)
  })
})
