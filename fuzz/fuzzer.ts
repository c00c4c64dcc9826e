// The fuzzer (README, "Fuzzing"): requests generated with fast-check from openapi.json, valid and
// hostile, sent in batches to the functions in process or over HTTP, every answer checked against
// the oracles, and the state compared around each batch of hostile requests that were all refused.

import fc from 'fast-check'
import type { GoogleMinter } from './credentials.ts'
import { readOperations } from './operations.ts'
import { checkAnswer, describeRequest, leavesStateAlone, type Violation } from './oracles.ts'
import { anyPlan, type Plan } from './plans.ts'
import { changes } from './state.ts'
import type { Answer } from './targets.ts'
import type { WireRequest } from './wire.ts'
import { toWire } from './wire.ts'
import type { World } from './world.ts'
import { localServerWorld, urlWorld } from './world-http.ts'
import { inProcessWorld } from './world-in-process.ts'

export type { Violation }

export type FuzzOptions = {
  /** how many generated requests to send (follow-up cancels of the fuzzer's own jobs come on top) */
  requests: number
  /** fast-check's seed: the same seed generates the same requests */
  seed?: number
  /** 'in-process' (default) or 'http' (the local server, started for the run) */
  target?: 'in-process' | 'http'
  /** a server already running there instead (`npm start`'s `http://127.0.0.1:3000/api/v1/web/local`) */
  url?: string
  /** PostgreSQL: where a fresh database is made; with `url`, that server's database */
  databaseUrl: string
  redisUrl?: string | undefined
  /** with `url`: its JWT secret and an admin key (default: what `npm start` keeps in .data/) */
  secret?: string | undefined
  adminKey?: string | undefined
  /** with `url`: mints Google ID tokens its server accepts (default: its `/sandbox/google-token`) */
  google?: GoogleMinter | undefined
  /** requests in flight at once (default 16) */
  concurrency?: number
  /** generated requests per batch, half valid and half hostile (default 48) */
  batchSize?: number
  /** called after each batch */
  onProgress?: (progress: FuzzProgress) => void
  /** called with each violation as it is found */
  onViolation?: (violation: Violation) => void
  logLevel?: string
  /** compare the state around refused requests (default true; off where others write meanwhile) */
  compareState?: boolean
  /** stops the run after the batch in flight */
  signal?: AbortSignal
}

export type FuzzProgress = { sent: number; total: number; violations: number; elapsedMs: number }

export type FuzzReport = {
  target: string
  seed: number
  /** generated requests sent, and all requests including the fuzzer's own cancels */
  requests: number
  requestsWithFollowUps: number
  seconds: number
  perSecond: number
  /** `operation` → status → count (generated requests only) */
  byRoute: Record<string, Record<string, number>>
  /** status → count */
  byStatus: Record<string, number>
  /** hostile batches whose state was compared, and those skipped because one was accepted */
  stateChecks: { compared: number; skipped: number }
  violations: Violation[]
  notes: string[]
}

const MAX_VIOLATIONS_KEPT = 200
// Hostile requests per state comparison: smaller groups are skipped less often (one accepted
// write skips its group), larger ones take fewer snapshots.
const STATE_GROUP = 8

// Runs `work` over `items` with at most `limit` in flight, answers in order.
async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) {
      results[index] = await work(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

// Hostile plans of a batch come from a seed of their own, so the valid half does not shift them.
const HOSTILE_SEED_OFFSET = 0x5eed

// `count` plans drawn from `arbitrary` with `seed`: the same seed, the same requests.
function sample(arbitrary: fc.Arbitrary<Plan>, count: number, seed: number): Plan[] {
  const [plans = []] = fc.sample(fc.array(arbitrary, { minLength: count, maxLength: count }), {
    seed,
    numRuns: 1,
  })
  return plans
}

function jobIdOf(answer: Answer): string | undefined {
  try {
    const body = JSON.parse(answer.body.toString('utf8')) as { job?: { id?: unknown } }
    return typeof body.job?.id === 'string' ? body.job.id : undefined
  } catch {
    return undefined
  }
}

async function openWorld(options: FuzzOptions, addressCount: number): Promise<World> {
  const common = {
    admins: Math.max(24, Math.ceil(options.requests / 500)),
    databaseUrl: options.databaseUrl,
    redisUrl: options.redisUrl,
    addressCount,
    ...(options.logLevel !== undefined && { logLevel: options.logLevel }),
  }
  if (options.url) {
    return urlWorld(options.url, {
      ...common,
      secret: options.secret,
      adminKey: options.adminKey,
      google: options.google,
    })
  }
  return options.target === 'http' ? localServerWorld(common) : inProcessWorld(common)
}

/**
 * Fuzzes every operation of openapi.json with `options.requests` requests and reports what came
 * back and every rule broken.
 * @example const report = await runFuzz({ requests: 3000, seed: 1, databaseUrl: process.env.DATABASE_URL })
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed ?? Date.now() % 2 ** 31
  const batchSize = options.batchSize ?? 48
  const concurrency = options.concurrency ?? 16
  const { operations, schemas } = readOperations()
  const valid = anyPlan(operations, schemas, false)
  const hostile = anyPlan(operations, schemas, true)
  const world = await openWorld(options, Math.max(64, Math.ceil(options.requests / 60)))
  const report: FuzzReport = {
    target: world.target.name,
    seed,
    requests: 0,
    requestsWithFollowUps: 0,
    seconds: 0,
    perSecond: 0,
    byRoute: {},
    byStatus: {},
    stateChecks: { compared: 0, skipped: 0 },
    violations: [],
    notes: world.notes,
  }
  const knownJobs: string[] = []
  const started = Date.now()
  let sent = 0
  let violationCount = 0
  const record = (found: Violation[]) => {
    violationCount += found.length
    for (const violation of found) {
      options.onViolation?.(violation)
      if (report.violations.length < MAX_VIOLATIONS_KEPT) {
        report.violations.push(violation)
      }
    }
  }

  // Sends one plan; a 202 that made or resumed a job is followed by the janitor's cancel, so no
  // queued chunk waits (for the queue's health check) and the next start may be accepted.
  async function send(plan: Plan): Promise<{ wire: WireRequest; answer: Answer }> {
    const clientIp = world.addresses[sent++ % world.addresses.length] ?? '203.0.113.1'
    const wire = toWire(plan, { credentials: world.credentials, knownJobs, clientIp })
    let answer: Answer
    try {
      answer = await world.target.send(wire)
    } catch (err) {
      answer = {
        status: 599,
        headers: {},
        body: Buffer.from(`no answer: ${(err as Error).message}`),
      }
    }
    report.requests += 1
    report.requestsWithFollowUps += 1
    const route = report.byRoute[plan.operation] ?? {}
    report.byRoute[plan.operation] = route
    route[answer.status] = (route[answer.status] ?? 0) + 1
    report.byStatus[answer.status] = (report.byStatus[answer.status] ?? 0) + 1
    record(checkAnswer(plan, wire, answer, world.target.name === 'http'))
    await followUp(plan, wire, answer)
    return { wire, answer }
  }

  async function followUp(plan: Plan, wire: WireRequest, answer: Answer) {
    const id = answer.status === 202 ? jobIdOf(answer) : undefined
    if (
      id &&
      wire.method.toUpperCase() === 'POST' && // the platform takes `post` for POST too
      (wire.fn === 'backfill-jira' || wire.fn === 'backfill-tempo')
    ) {
      if (!knownJobs.includes(id)) {
        knownJobs.push(id)
      }
      const cancel: WireRequest = {
        fn: wire.fn,
        method: 'DELETE',
        path: `/${id}`,
        query: '',
        headers: world.credentials.janitor,
        body: Buffer.alloc(0),
        clientIp: world.addresses[0] ?? '127.0.0.1',
      }
      const cancelled = await world.target.send(cancel)
      report.requestsWithFollowUps += 1
      record(
        checkAnswer(
          { ...plan, operation: 'DELETE (fuzzer’s cancel)', mutations: [] },
          cancel,
          cancelled,
        ),
      )
    }
    if (answer.status === 204 && wire.fn === 'login' && wire.headers.authorization) {
      await world.credentials.renew(wire.headers.authorization)
    }
  }

  // Hostile requests, with the state compared around them when every one was refused or only read.
  async function hostileGroup(plans: Plan[], name: string) {
    const state = options.compareState === false ? undefined : world.state
    const before = await state?.snapshot()
    const answers = await pooled(plans, concurrency, send)
    if (!state || !before) {
      return
    }
    const after = await state.snapshot()
    if (!answers.every(({ wire, answer }) => leavesStateAlone(wire, answer))) {
      report.stateChecks.skipped += 1
      return
    }
    report.stateChecks.compared += 1
    const changed = changes(before, after)
    if (changed.length > 0) {
      record([
        {
          kind: 'state-changed',
          operation: `${name} (seed ${seed})`,
          status: 0,
          detail: changed.join('; '),
          request: answers
            .map(
              ({ wire, answer }, n) =>
                `${answer.status} ${describeRequest(plans[n] as Plan, wire)}`,
            )
            .join('\n'),
        },
      ])
    }
  }

  try {
    for (let batch = 0; report.requests < options.requests && !options.signal?.aborted; batch++) {
      const left = options.requests - report.requests
      const size = Math.min(batchSize, left)
      const validCount = Math.floor(size / 2)
      const validPlans = sample(valid, validCount, seed + batch)
      const hostilePlans = sample(hostile, size - validCount, seed + batch + HOSTILE_SEED_OFFSET)
      await pooled(validPlans, concurrency, send)
      for (let from = 0; from < hostilePlans.length; from += STATE_GROUP) {
        await hostileGroup(hostilePlans.slice(from, from + STATE_GROUP), `batch ${batch}`)
      }
      options.onProgress?.({
        sent: report.requests,
        total: options.requests,
        violations: violationCount,
        elapsedMs: Date.now() - started,
      })
    }
  } finally {
    report.seconds = (Date.now() - started) / 1000
    report.perSecond = report.requestsWithFollowUps / Math.max(report.seconds, 0.001)
    await world.close()
  }
  if (violationCount > report.violations.length) {
    report.notes.push(`${violationCount} violations, the first ${report.violations.length} kept`)
  }
  return report
}
