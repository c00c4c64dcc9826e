import type { PaceBudget } from '#core/rate-limit/pacer.ts'

/** The upstreams whose calls are paced. */
export type Upstream = 'jira' | 'tempo' | 'pinecone'

/**
 * Each upstream's outbound budget, below its own limit so that clock skew between containers and
 * network jitter do not tip it over. Tempo's gateway allows 5 requests a second (we take 4).
 * Jira publishes no fixed rate for API-token traffic, only burst limits per endpoint whose 429s
 * carry `Retry-After` (handled by the pacer's pause): 10 a second is a conservative start.
 * Pinecone's data plane takes about 100 a second per namespace (we take half).
 */
export const PACE_BUDGETS: Readonly<Record<Upstream, PaceBudget>> = Object.freeze({
  jira: { limit: 10, windowMs: 1000 },
  tempo: { limit: 4, windowMs: 1000 },
  pinecone: { limit: 50, windowMs: 1000 },
})
