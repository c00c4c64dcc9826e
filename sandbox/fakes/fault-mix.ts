// A seeded mix of the faults upstreams really show (429 with Retry-After, 500, 503, stalls, reset
// connections, truncated and odd answers), for a fake's `injectFaults`: one random source decides
// which request fails and how, so a seed repeats the same sequence of decisions.
import type { FaultRule, RecordedRequest } from './server.ts'

/** The kinds of fault the mix injects. */
export const FAULT_KINDS = [
  'rate-limited',
  'server-error',
  'unavailable',
  'bad-gateway-html',
  'truncated',
  'empty',
  'reset',
  'stall',
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

/** The upstreams whose error shapes the mix speaks. */
export type FaultUpstream = 'jira' | 'tempo' | 'pinecone'

// Relative weights: overload and plain server errors dominate, as on the real services; a stall
// (the answer never comes before the connection drops) costs a client its time-out, so it is rare.
const WEIGHTS: Record<FaultKind, number> = {
  'rate-limited': 30,
  'server-error': 18,
  unavailable: 18,
  'bad-gateway-html': 8,
  truncated: 12,
  empty: 6,
  reset: 6,
  stall: 2,
}

/** How long a stalled request waits before its connection drops. */
export const STALL_MS = 12_000

function errorBody(upstream: FaultUpstream, status: number, message: string): unknown {
  if (upstream === 'jira') {
    return { errorMessages: [message], errors: {} }
  }
  if (upstream === 'pinecone') {
    const code = status === 429 ? 'RESOURCE_EXHAUSTED' : status === 503 ? 'UNAVAILABLE' : 'INTERNAL'
    return { error: { code, message }, status }
  }
  return { errors: [{ message }] }
}

// The first bytes of a plausible success answer, cut off mid-value.
const TRUNCATED: Record<FaultUpstream, string> = {
  jira: '{"issues":[{"id":"10001","key":"OPS-1","fields":{"summary":"Fix the',
  tempo: '{"self":"https://api.tempo.io/4/worklogs","metadata":{"count":50},"results":[{"tempo',
  pinecone: '{"vectors":{"jira-OPS-1":{"id":"jira-OPS-1","values":[0.01,0.0',
}

function ruleOf(kind: FaultKind, upstream: FaultUpstream, now: number): FaultRule {
  switch (kind) {
    case 'rate-limited': {
      const headers: Record<string, string> = { 'retry-after': '1' }
      if (upstream === 'jira') {
        headers['x-ratelimit-reset'] = new Date(now + 60_000).toISOString().slice(0, 16)
        headers['ratelimit-reason'] = 'jira-burst-based'
      }
      return {
        kind: 'respond',
        status: 429,
        headers,
        body: errorBody(upstream, 429, 'Rate limit exceeded.'),
      }
    }
    case 'server-error':
      return { kind: 'respond', status: 500, body: errorBody(upstream, 500, 'Internal error.') }
    case 'unavailable':
      return {
        kind: 'respond',
        status: 503,
        headers: { 'retry-after': '1' },
        body: errorBody(upstream, 503, 'Service unavailable.'),
      }
    case 'bad-gateway-html':
      return {
        kind: 'respond',
        status: 502,
        headers: { 'content-type': 'text/html' },
        body: '<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>',
      }
    case 'truncated':
      return {
        kind: 'respond',
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: TRUNCATED[upstream],
      }
    case 'empty':
      return { kind: 'respond', status: 200, headers: { 'content-type': 'application/json' } }
    case 'reset':
      return { kind: 'drop' }
    case 'stall':
      return { kind: 'drop', delayMs: STALL_MS }
  }
}

/** A fault mix plugged into fakes: what it injected so far, and a switch. */
export type FaultMix = {
  /** The picker for `upstream`'s fake (`fake.injectFaults(mix.picker('jira'))`). */
  picker(upstream: FaultUpstream): (req: RecordedRequest) => FaultRule | undefined
  /** Faults injected so far, by upstream and kind. */
  counts(): Record<FaultUpstream, Record<FaultKind, number>>
  /** Every fault injected so far. */
  total(): number
  /** When each fault was injected (epoch ms, by the mix's clock), and into which upstream. */
  injected(): ReadonlyArray<{ at: number; upstream: FaultUpstream }>
  /** Requests the pickers were asked about. */
  seen(): number
  /** Turns injection on or off (on at first). */
  setEnabled(enabled: boolean): void
}

/**
 * A mix that fails `rate` of the requests it is asked about, drawing every decision from `random`.
 * @example const mix = createFaultMix({ rate: 0.1, random: seededRandom(7) }); jira.injectFaults(mix.picker('jira'))
 */
export function createFaultMix(options: {
  rate: number
  random: () => number
  now?: () => number
}): FaultMix {
  const now = options.now ?? Date.now
  const totalWeight = FAULT_KINDS.reduce((sum, kind) => sum + WEIGHTS[kind], 0)
  const zero = () =>
    Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>
  const counts: Record<FaultUpstream, Record<FaultKind, number>> = {
    jira: zero(),
    tempo: zero(),
    pinecone: zero(),
  }
  let enabled = true
  let seen = 0
  const injected: Array<{ at: number; upstream: FaultUpstream }> = []

  function draw(): FaultKind {
    let left = options.random() * totalWeight
    for (const kind of FAULT_KINDS) {
      left -= WEIGHTS[kind]
      if (left < 0) {
        return kind
      }
    }
    return 'server-error'
  }

  return {
    picker(upstream) {
      return () => {
        if (!enabled) {
          return undefined
        }
        seen += 1
        if (options.random() >= options.rate) {
          return undefined
        }
        const kind = draw()
        counts[upstream][kind] += 1
        injected.push({ at: now(), upstream })
        return ruleOf(kind, upstream, now())
      }
    },
    counts: () => structuredClone(counts),
    total: () =>
      Object.values(counts).reduce(
        (sum, byKind) => sum + Object.values(byKind).reduce((a, b) => a + b, 0),
        0,
      ),
    seen: () => seen,
    injected: () => injected,
    setEnabled(next) {
      enabled = next
    },
  }
}
