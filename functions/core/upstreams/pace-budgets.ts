import type { PaceBudget } from '#core/rate-limit/pacer.ts'

/** The upstreams whose calls are paced. */
export type Upstream = 'jira' | 'tempo' | 'pinecone'

/** The budgets calls are paced under: one per upstream, and Jira's search endpoint on its own. */
export type PaceBudgetName = Upstream | 'jira-search'

/**
 * Each budget, below the upstream's own limit so that clock skew between containers and network
 * jitter do not tip it over. Tempo's gateway allows 5 requests a second (we take 4). Jira
 * publishes no fixed rate for API-token traffic, only burst limits per endpoint and method whose
 * 429s carry `Retry-After` (handled by the pacer's pause): 10 a second is a conservative start for
 * `search/jql`, where every bulk read goes, and another 10 for its other endpoints together
 * (project and user look-ups). Pinecone's data plane takes about 100 a second per namespace (we
 * take half).
 */
export const PACE_BUDGETS: Readonly<Record<PaceBudgetName, PaceBudget>> = Object.freeze({
  'jira-search': { limit: 10, windowMs: 1000 },
  jira: { limit: 10, windowMs: 1000 },
  tempo: { limit: 4, windowMs: 1000 },
  pinecone: { limit: 50, windowMs: 1000 },
})
