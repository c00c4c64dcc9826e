// The soak (README, "Reliability"): the local stack under upstream faults, PostgreSQL restarts,
// killed workers, concurrent backfill starts, cancels and resumes, upstream changes and daily syncs,
// all on a schedule drawn from one seed; then the faults stop, the queue drains, the operator's
// final backfills reconcile, and the stores are compared with the fakes.
import { setTimeout as sleep } from 'node:timers/promises'
import { type ApiClient, createApiClient } from '#client/api.ts'
import type { JobView } from '#client/types.ts'
import { loadConfig } from '#core/config.ts'
import { createServices, type Services } from '#core/services.ts'
import { createUpstreams } from '#core/upstream-clients.ts'
import { createPipelineRegistry, SYNC_PLAN_TIMEOUT_MS } from '#pipelines/registry.ts'
import { createFaultMix, type FaultMix } from '#sandbox/fakes/fault-mix.ts'
import { seededRandom } from '#sandbox/fakes/server.ts'
import { createSyncHandler } from '../functions/jobs/sync/handler.ts'
import {
  CHANGE_KINDS,
  type ChangeKind,
  createUpstreamChanges,
  type UpstreamChanges,
} from './changes.ts'
import { type Actor, type AnswerLog, countingFetch, createActors } from './clients.ts'
import type { Fuzzer, FuzzReport } from './fuzz.ts'
import { classifyServerErrors } from './outage-answers.ts'
import { type StackSize, startStack } from './stack.ts'
import { judge, type Verdict } from './truth.ts'
import { startWorkerPool, type WorkerPool } from './workers.ts'

const DAY_MS = 86_400_000

export type SoakOptions = {
  minutes: number
  seed: number
  /** share of upstream requests that fail (default 0.1) */
  faultRate?: number
  /** worker processes kept running (default 2) */
  workers?: number
  size?: StackSize
  /** the longest wait for the queue to drain, and for the final reconcile (default 180 s each) */
  drainSeconds?: number
  /** requests the fuzzer sends during the run (0: none) */
  fuzzRequests?: number
  fuzzer?: Fuzzer
  redisUrl?: string
  /** aborted on SIGINT: the soak stops, drains briefly and reports */
  signal?: AbortSignal
  say?: (line: string) => void
}

export const DEFAULT_SIZE: StackSize = { projects: 3, issues: 240, worklogs: 900, days: 120 }

export type Target = { name: string; value: number; target: string; met: boolean }

export type SoakResults = {
  seed: number
  minutes: number
  faultRate: number
  startedAt: string
  finishedAt: string
  interrupted: boolean
  requests: AnswerLog & {
    /** 503 UNAVAILABLE answers while PostgreSQL restarted (not counted as 5xx seen) */
    unavailableDuringOutages: number
    /** 503 UNAVAILABLE answers while an injected fault failed an upstream under the request */
    unavailableDuringUpstreamFaults: number
    upstream: Record<'jira' | 'tempo' | 'pinecone', number>
  }
  faults: { total: number; byUpstream: ReturnType<FaultMix['counts']> }
  postgresRestarts: { done: number; survived: number }
  workerKills: { done: number; survived: number }
  workers: ReturnType<WorkerPool['stats']> & { lastErrors: string[] }
  clientActions: Record<string, number>
  actionErrors: string[]
  changes: ReturnType<UpstreamChanges['counts']>
  dailySyncs: number
  drain: { seconds: number; drained: boolean }
  reconcile: {
    jobs: Array<{ kind: string; id: string; status: string; warnings: string[] }>
    /** finals started again with `confirmDeletions` because the deletion brake held deletions */
    brakeConfirmations: number
    resumes: number
  }
  jobs: { byStatus: Record<string, number>; stuck: number }
  /** the stores against the fakes after the drain, before the final backfills (not a target) */
  beforeReconcile: Verdict | null
  data: Verdict | null
  fuzz: FuzzReport | null
  targets: Target[]
  ok: boolean
}

type EventKind = 'restart-postgres' | 'kill-worker' | 'client' | 'change' | 'daily-sync'
/** `change` names the upstream change; otherwise `picks` choose what happens. */
type SoakEvent = { at: number; kind: EventKind; picks: number[]; change?: ChangeKind }

// The first client events of a run make one of each action, in an order where each can act.
const FIRST_ACTIONS: Array<[number, number]> = [
  // [picks[0], picks[2]]: start Jira, start Tempo, follow, cancel, resume
  [0.1, 0.2],
  [0.1, 0.8],
  [0.9, 0.2],
  [0.3, 0.8],
  [0.5, 0.8],
]

/** The whole schedule, drawn up front from the seed: the same seed gives the same events. */
export function drawSchedule(random: () => number, durationMs: number): SoakEvent[] {
  const perKind: Array<[EventKind, number, number]> = [
    // kind, minimum count, one per this many ms on average
    ['restart-postgres', 1, 180_000],
    ['kill-worker', 2, 45_000],
    ['client', 20, 2_000],
    ['change', 12, 2_500],
    ['daily-sync', 1, 90_000],
  ]
  const events: SoakEvent[] = []
  for (const [kind, minimum, every] of perKind) {
    const count = Math.max(minimum, Math.round(durationMs / every))
    for (let n = 0; n < count; n += 1) {
      const at = Math.round((0.05 + random() * 0.85) * durationMs)
      events.push({ at, kind, picks: Array.from({ length: 5 }, () => random()) })
    }
  }
  events.sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind))
  // Every kind of change and of client action happens in every run, however short.
  const order = [...CHANGE_KINDS]
  for (let n = order.length - 1; n > 0; n -= 1) {
    const other = Math.floor(random() * (n + 1))
    ;[order[n], order[other]] = [order[other] as ChangeKind, order[n] as ChangeKind]
  }
  events
    .filter((event) => event.kind === 'change')
    .forEach((event, n) => {
      const kind = order[n]
      if (kind) {
        event.change = kind
      }
    })
  events
    .filter((event) => event.kind === 'client')
    .forEach((event, n) => {
      const first = FIRST_ACTIONS[n]
      if (first) {
        event.picks[0] = first[0]
        event.picks[2] = first[1]
      }
    })
  return events
}

function at<T>(list: readonly T[], pick: number): T | undefined {
  return list[Math.min(list.length - 1, Math.floor(pick * list.length))]
}

const ACTIVE = new Set(['queued', 'running'])

// A request sent before the database came back may still meet a dead connection this long after.
const OUTAGE_GRACE_MS = 15_000

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/**
 * Runs the soak and answers its results; never throws for a missed target (see `ok`).
 * @example const results = await runSoak({ minutes: 1, seed: 7 })
 */
export async function runSoak(options: SoakOptions): Promise<SoakResults> {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`))
  const faultRate = options.faultRate ?? 0.1
  const durationMs = Math.round(options.minutes * 60_000)
  const drainMs = (options.drainSeconds ?? 180) * 1000
  const startedAt = new Date()
  const random = seededRandom(options.seed)
  const schedule = drawSchedule(random, durationMs)
  const mix = createFaultMix({ rate: faultRate, random: seededRandom(options.seed ^ 0x5eed) })

  say(
    `soak: seed ${options.seed}, ${options.minutes} min, ${Math.round(faultRate * 100)}% upstream faults`,
  )
  say('starting the stack (embedded PostgreSQL, fakes, Upstash bridge, web functions)…')
  const stack = await startStack({
    seed: options.seed,
    size: options.size ?? DEFAULT_SIZE,
    ...(options.redisUrl && { redisUrl: options.redisUrl }),
  })
  const log: AnswerLog = { requests: 0, byStatus: {}, networkErrors: 0, serverErrors: [] }
  const services: Services = createServices(
    loadConfig(process.env),
    {},
    {
      upstreams: createUpstreams,
    },
  )
  let pool: WorkerPool | undefined
  try {
    const actors = await createActors({
      base: stack.base,
      adminKeys: stack.adminKeys.chaos,
      google: stack.google,
      emails: ['admin@example.com', 'lead@example.com', 'ops@example.com'],
      log,
    })
    const operator = createApiClient({
      baseUrl: stack.base,
      adminKey: stack.adminKeys.operator,
      fetch: countingFetch(log),
    })
    const changes = createUpstreamChanges({
      jira: stack.jira,
      tempo: stack.tempo,
      users: stack.users,
      firstDay: stack.firstDay,
    })
    stack.jira.injectFaults(mix.picker('jira'))
    stack.tempo.injectFaults(mix.picker('tempo'))
    stack.pinecone.injectFaults(mix.picker('pinecone'))
    pool = startWorkerPool({ size: options.workers ?? 2, env: stack.env })

    const state = {
      restarts: 0,
      restartsSurvived: 0,
      restarting: false,
      /** from the stop of PostgreSQL until it answers again (plus a grace) */
      outages: [] as Array<{ from: number; to: number }>,
      dailySyncs: 0,
      actions: {} as Record<string, number>,
      /** the first actions that threw (a client call never throws; a daily sync may) */
      actionErrors: [] as string[],
    }
    const inflight = new Set<Promise<unknown>>()
    const track = (promise: Promise<unknown>) => {
      const guarded = promise.catch((err: unknown) => {
        count('action-error')
        if (state.actionErrors.length < 10) {
          state.actionErrors.push(
            err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          )
        }
      })
      inflight.add(guarded)
      void guarded.finally(() => inflight.delete(guarded))
    }
    const count = (name: string) => {
      state.actions[name] = (state.actions[name] ?? 0) + 1
    }

    // The fakes log every request with its body (Pinecone's carry vectors): counted, then
    // dropped, so a long run does not keep them all in memory.
    const upstreamCounts = { jira: 0, tempo: 0, pinecone: 0 }
    const upstreamCount = (name: keyof typeof upstreamCounts) => {
      const fake = stack[name]
      upstreamCounts[name] += fake.requests.length
      fake.requests.length = 0
      return upstreamCounts[name]
    }
    const upstreamTotal = () =>
      upstreamCount('jira') + upstreamCount('tempo') + upstreamCount('pinecone')

    const judgeInput = () => ({
      jira: stack.jira,
      tempo: stack.tempo,
      pinecone: stack.pinecone,
      users: stack.users,
      keysEver: changes.keysEver(),
      pool: services.pool,
    })

    async function jobCounts(): Promise<Record<string, number> | undefined> {
      try {
        const result = await services.pool.query<{ status: string; n: number }>(
          'select status, count(*)::int as n from jobs group by status',
        )
        return Object.fromEntries(result.rows.map((row) => [row.status, row.n]))
      } catch {
        return undefined // PostgreSQL is restarting
      }
    }

    async function restartPostgres() {
      if (state.restarting) {
        return
      }
      state.restarting = true
      state.restarts += 1
      const window = { from: Date.now(), to: Number.POSITIVE_INFINITY }
      state.outages.push(window)
      try {
        await stack.postgres.restart()
        // Survived: the web functions answer from the database again within 30 s.
        const until = Date.now() + 30_000
        while (Date.now() < until) {
          const listed = await operator.backfills.jira.list({ limit: 1 })
          if (listed.ok) {
            state.restartsSurvived += 1
            break
          }
          await sleep(500)
        }
      } finally {
        // Requests under way when the database came back may still meet a dead connection.
        window.to = Date.now() + OUTAGE_GRACE_MS
        state.restarting = false
      }
    }

    async function clientAction(actor: Actor, picks: readonly number[]) {
      const api: ApiClient = actor.api
      const source = (picks[2] ?? 0) < 0.5 ? 'jira' : 'tempo'
      const backfills = api.backfills[source]
      const choice = picks[0] ?? 0
      if (choice < 0.25) {
        count(`start-${source}`)
        const projects = (picks[3] ?? 0) < 0.3 ? { projects: ['OPS'] } : {}
        const started =
          source === 'jira'
            ? await api.backfills.jira.start({
                days: (picks[4] ?? 0) < 0.7 ? 3650 : 30,
                ...projects,
              })
            : await api.backfills.tempo.start({
                days: 1 + Math.floor((picks[4] ?? 0) * 130),
                ...projects,
              })
        count(started.ok ? 'start-accepted' : `start-${started.error.code}`)
        return
      }
      const listed = await backfills.list({ limit: 20 })
      if (!listed.ok) {
        return
      }
      if (choice < 0.45) {
        const job = at(
          listed.value.filter((j) => ACTIVE.has(j.status)),
          picks[3] ?? 0,
        )
        if (job) {
          count('cancel')
          const cancelled = await backfills.cancel(job.id)
          count(cancelled.ok ? 'cancel-accepted' : `cancel-${cancelled.error.code}`)
        }
      } else if (choice < 0.65) {
        const job = at(
          listed.value.filter((j) => j.status === 'cancelled' || j.status === 'failed'),
          picks[3] ?? 0,
        )
        if (job) {
          count('resume')
          const resumed = await backfills.resume(job.id)
          count(resumed.ok ? 'resume-accepted' : `resume-${resumed.error.code}`)
        }
      } else {
        const job = at(listed.value, picks[3] ?? 0)
        if (job) {
          count('follow')
          const shown = await backfills.get(job.id)
          if (shown.ok) {
            await backfills.get(job.id, { waitSeconds: 2, since: shown.value.version })
          }
        }
      }
    }

    async function dailySync() {
      // Each run is the next day's 06:30 trigger: the sync's day moves one day per run.
      const day = state.dailySyncs
      state.dailySyncs += 1
      const handler = createSyncHandler({
        ...services,
        clock: { now: () => new Date(Date.now() + day * DAY_MS) },
        registry: createPipelineRegistry(services, { planTimeoutMs: SYNC_PLAN_TIMEOUT_MS }),
      })
      const result = (await handler({}, { getRemainingTimeInMillis: () => 60_000 })) as {
        created: number
        failed: number
      }
      count(`daily-sync-created-${result.created}-failed-${result.failed}`)
    }

    // A kill drawn while no worker runs waits for one (up to 10 s), so every run kills.
    async function killWhenRunning(pick: number) {
      for (let tries = 0; tries < 40 && !pool?.kill(pick); tries++) {
        await sleep(250)
      }
    }

    function fire(event: SoakEvent) {
      switch (event.kind) {
        case 'restart-postgres':
          track(restartPostgres())
          break
        case 'kill-worker':
          track(killWhenRunning(event.picks[0] ?? 0))
          break
        case 'client': {
          const actor = at(actors, event.picks[1] ?? 0)
          if (actor) {
            track(clientAction(actor, event.picks))
          }
          break
        }
        case 'change':
          changes.apply(event.picks, event.change)
          break
        case 'daily-sync':
          track(dailySync())
          break
      }
    }

    const fuzzRuns: Array<Promise<FuzzReport>> = []
    const fuzzAbort = new AbortController()
    if (options.fuzzRequests) {
      if (!options.fuzzer) {
        throw new Error('--fuzz-requests needs a fuzzer: none is plugged in (soak/fuzz.ts)')
      }
      const run = options.fuzzer({
        baseUrl: stack.base,
        adminKey: stack.adminKeys.fuzz,
        databaseUrl: stack.postgres.url,
        redisUrl: options.redisUrl,
        jwtSecret: stack.env.JWT_SECRET_KEY ?? '',
        google: (email) =>
          stack.google.mintIdToken({
            email,
            name: email,
            sub: `soak-${email}`,
            hd: email.split('@')[1],
          }),
        requests: options.fuzzRequests,
        seed: options.seed,
        signal: fuzzAbort.signal,
      })
      fuzzRuns.push(run)
    }

    // The chaos phase.
    const t0 = Date.now()
    const progressEvery = options.minutes > 5 ? 15_000 : 5_000
    let nextProgress = t0 + progressEvery
    let next = 0
    const progress = async (phase: string) => {
      const jobs = await jobCounts()
      const active = jobs ? (jobs.queued ?? 0) + (jobs.running ?? 0) : '?'
      const done = jobs ? (jobs.succeeded ?? 0) + (jobs.failed ?? 0) + (jobs.cancelled ?? 0) : '?'
      say(
        `[${phase} ${clock(Date.now() - t0)}/${clock(durationMs)}] requests ${log.requests} ` +
          `(5xx ${log.serverErrors.length}) upstream ${upstreamTotal()} faults ${mix.total()} ` +
          `restarts ${state.restarts} kills ${pool?.stats().killed ?? 0} ` +
          `jobs ${active} active, ${done} ended`,
      )
    }
    while (Date.now() - t0 < durationMs && !options.signal?.aborted) {
      const elapsed = Date.now() - t0
      while (next < schedule.length && (schedule[next]?.at ?? Infinity) <= elapsed) {
        fire(schedule[next] as SoakEvent)
        next += 1
      }
      if (Date.now() >= nextProgress) {
        nextProgress += progressEvery
        await progress('soak')
      }
      await sleep(200)
    }
    const interrupted = options.signal?.aborted ?? false

    // Faults and chaos stop; what is under way finishes.
    mix.setEnabled(false)
    fuzzAbort.abort()
    await Promise.race([Promise.allSettled([...inflight]), sleep(30_000)])
    const [fuzz = null] = await Promise.all(fuzzRuns.map((run) => run.catch(() => null)))

    const drainStart = Date.now()
    const drainLimit = interrupted ? 20_000 : drainMs
    say(`draining the queue (at most ${Math.round(drainLimit / 1000)} s)…`)
    let drained = false
    while (Date.now() - drainStart < drainLimit) {
      const jobs = await jobCounts()
      if (jobs && (jobs.queued ?? 0) + (jobs.running ?? 0) === 0) {
        drained = true
        break
      }
      if (Date.now() >= nextProgress) {
        nextProgress += progressEvery
        await progress('drain')
      }
      await sleep(500)
    }
    const drainSeconds = Math.round((Date.now() - drainStart) / 1000)

    // What the system reached by itself (syncs and the clients' backfills), for the report only.
    const beforeReconcile = await judge(judgeInput()).catch(() => null)
    const reconcile: SoakResults['reconcile'] = { jobs: [], brakeConfirmations: 0, resumes: 0 }
    if (!interrupted) {
      say('final reconcile: a Jira backfill of every project and a Tempo backfill of every day…')
      const today = new Date().toISOString().slice(0, 10)
      const finals = await Promise.all([
        finalBackfill(operator, 'jira', { days: 3650 }, drainMs, reconcile),
        finalBackfill(operator, 'tempo', { from: stack.firstDay, to: today }, drainMs, reconcile),
      ])
      for (const job of finals) {
        reconcile.jobs.push({
          kind: job.kind,
          id: job.id,
          status: job.status,
          warnings: job.progress.warnings,
        })
      }
    }

    const byStatus = (await jobCounts()) ?? {}
    const stuck = (byStatus.queued ?? 0) + (byStatus.running ?? 0)
    const data = await judge(judgeInput())
    await pool.stop(5_000)
    const workers = { ...pool.stats(), lastErrors: pool.errors().slice(-3) }
    const stores = [data.jiraVectors, data.tempoRows, data.tempoVectors]
    const sum = (field: 'lost' | 'stale' | 'leftover' | 'duplicated') =>
      stores.reduce((total, store) => total + store[field], 0)
    const clean = stuck === 0 && sum('lost') === 0 && sum('duplicated') === 0
    const kills = workers.killed
    // A 503 UNAVAILABLE is the designed answer while PostgreSQL is down or an upstream fails
    // under a request: reported, not counted against the target; any other 5xx is.
    const answers = classifyServerErrors(log.serverErrors, {
      restarts: state.outages,
      faults: mix.injected(),
    })
    const serverErrors = answers.unexplained
    const targets: Target[] = [
      { name: 'lost records', value: sum('lost'), target: '0', met: sum('lost') === 0 },
      { name: 'stale records', value: sum('stale'), target: '0', met: sum('stale') === 0 },
      {
        name: 'records deleted upstream, still stored',
        value: sum('leftover'),
        target: '0',
        met: sum('leftover') === 0,
      },
      {
        name: 'duplicated records',
        value: sum('duplicated'),
        target: '0',
        met: sum('duplicated') === 0,
      },
      { name: 'jobs stuck', value: stuck, target: '0', met: stuck === 0 },
      {
        name: '5xx answers seen by clients',
        value: serverErrors.length,
        target: '0',
        met: serverErrors.length === 0,
      },
      {
        name: 'PostgreSQL restarts survived',
        value: state.restartsSurvived,
        target: `${state.restarts}`,
        met: state.restartsSurvived === state.restarts && state.restarts > 0,
      },
      {
        name: 'worker kills survived',
        value: clean ? kills : 0,
        target: `${kills}`,
        met: clean && kills > 0,
      },
      {
        name: 'final reconcile finished',
        value: reconcile.jobs.filter((j) => j.status === 'succeeded').length,
        target: '2',
        met: reconcile.jobs.length === 2 && reconcile.jobs.every((j) => j.status === 'succeeded'),
      },
    ]
    if (fuzz) {
      targets.push(
        {
          name: 'fuzz answers ≥ 500 (outages aside)',
          value: fuzz.serverErrors,
          target: '0',
          met: fuzz.serverErrors === 0,
        },
        {
          name: 'fuzz answers breaking a rule',
          value: fuzz.violations,
          target: '0',
          met: fuzz.violations === 0,
        },
      )
    }
    if (interrupted) {
      targets.push({ name: 'ran to the end', value: 0, target: '1', met: false })
    }
    return {
      seed: options.seed,
      minutes: options.minutes,
      faultRate,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      interrupted,
      requests: {
        ...log,
        serverErrors: serverErrors.slice(0, 50),
        unavailableDuringOutages: answers.duringRestart.length,
        unavailableDuringUpstreamFaults: answers.duringUpstreamFault.length,
        upstream: {
          jira: upstreamCount('jira'),
          tempo: upstreamCount('tempo'),
          pinecone: upstreamCount('pinecone'),
        },
      },
      faults: { total: mix.total(), byUpstream: mix.counts() },
      postgresRestarts: { done: state.restarts, survived: state.restartsSurvived },
      workerKills: { done: kills, survived: clean ? kills : 0 },
      workers,
      clientActions: state.actions,
      actionErrors: state.actionErrors,
      changes: changes.counts(),
      dailySyncs: state.dailySyncs,
      drain: { seconds: drainSeconds, drained },
      reconcile,
      jobs: { byStatus, stuck },
      beforeReconcile,
      data,
      fuzz,
      targets,
      ok: targets.every((target) => target.met),
    }
  } finally {
    await pool?.stop(5_000)
    await services.pool.end().catch(() => {})
    await stack.stop()
  }
}

/**
 * The operator's final backfill of one source, followed to its end: a job of the kind still
 * active is cancelled first; a failed one is resumed; deletions the brake held are confirmed by a
 * second backfill with `confirmDeletions`, as the warning asks.
 */
async function finalBackfill(
  operator: ApiClient,
  source: 'jira' | 'tempo',
  input: Record<string, unknown>,
  limitMs: number,
  report: SoakResults['reconcile'],
): Promise<JobView> {
  const backfills = operator.backfills[source]
  const deadline = Date.now() + limitMs
  let body = input
  let job: JobView | undefined
  for (let round = 0; round < 4 && Date.now() < deadline; round += 1) {
    const started = await backfills.start(body as never)
    if (!started.ok) {
      const active = (started.error.details as { job?: JobView } | undefined)?.job
      if (started.error.code === 'CONFLICT' && active) {
        await backfills.cancel(active.id)
        await waitForEnd(backfills, active.id, deadline)
      } else {
        await sleep(1_000)
      }
      continue
    }
    job = await waitForEnd(backfills, started.value.job.id, deadline)
    for (let resumes = 0; job.status === 'failed' && resumes < 3; resumes += 1) {
      report.resumes += 1
      await backfills.resume(job.id)
      job = await waitForEnd(backfills, job.id, deadline)
    }
    const held = job.progress.warnings.some((warning) => warning.includes('confirmDeletions'))
    if (job.status === 'succeeded' && held && body.confirmDeletions !== true) {
      report.brakeConfirmations += 1
      body = { ...input, confirmDeletions: true }
      continue
    }
    return job
  }
  if (!job) {
    throw new Error(`the final ${source} backfill could not be started`)
  }
  return job
}

async function waitForEnd(
  backfills: ApiClient['backfills']['jira'],
  jobId: string,
  deadline: number,
): Promise<JobView> {
  let last: JobView | undefined
  while (Date.now() < deadline) {
    const shown = await backfills.get(jobId)
    if (shown.ok) {
      last = shown.value.job
      if (!ACTIVE.has(last.status)) {
        return last
      }
    }
    await sleep(1_000)
  }
  if (!last) {
    throw new Error(`job ${jobId} could not be read`)
  }
  return last
}
