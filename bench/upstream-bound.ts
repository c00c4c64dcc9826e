// What the upstreams' latencies and our pace budgets allow a Jira backfill (README, "Benchmarks"):
// - a project's pages follow one another (each page's token comes with the page before), so its
//   chain is its pages, then its reconcile's key-scan pages, one search latency each, plus the
//   last page's write (an embed and an upsert; earlier pages' writes overlap the next page);
// - all of Jira's requests start within its budget (`limit` a window): the last one starts no
//   sooner than ⌊(requests − 1) ÷ limit⌋ windows in, and takes a search latency;
// - the same for Pinecone's requests;
// - one worker per project (projects side by side).
// The bound is the longest of these: no schedule of those requests can finish sooner.
import type { PaceBudget } from '#core/rate-limit/pacer.ts'

export type BoundInput = {
  /** issues per project */
  projects: readonly number[]
  pageSize: number
  keyPageSize: number
  latencies: { jiraSearch: number; embed: number; upsert: number }
  budgets: { jira: PaceBudget; pinecone: PaceBudget }
  /** Pinecone requests of the run (embeds, upserts, listings, checks), from the fake's log */
  pineconeRequests: number
}

export type Bound = {
  ms: number
  /** which limit decides it */
  decidedBy: 'project chain' | 'Jira budget' | 'Pinecone budget'
  jiraRequests: number
  chainMs: number
  jiraBudgetMs: number
  pineconeBudgetMs: number
}

const pagesOf = (issues: number, size: number) => Math.max(1, Math.ceil(issues / size))

/** The shortest time the upstreams allow for the backfill of `input.projects`. */
export function upstreamBound(input: BoundInput): Bound {
  const { latencies, budgets } = input
  const write = latencies.embed + latencies.upsert
  const chains = input.projects.map(
    (issues) =>
      (pagesOf(issues, input.pageSize) + pagesOf(issues, input.keyPageSize)) *
        latencies.jiraSearch +
      write,
  )
  const chainMs = Math.max(...chains)
  // Per project: its look-up by id, its pages and its key-scan pages.
  const jiraRequests = input.projects.reduce(
    (sum, issues) => sum + 1 + pagesOf(issues, input.pageSize) + pagesOf(issues, input.keyPageSize),
    0,
  )
  const budgetMs = (requests: number, budget: PaceBudget, latency: number) =>
    Math.floor(Math.max(0, requests - 1) / budget.limit) * budget.windowMs + latency
  const jiraBudgetMs = budgetMs(jiraRequests, budgets.jira, latencies.jiraSearch)
  const pineconeBudgetMs = budgetMs(input.pineconeRequests, budgets.pinecone, latencies.upsert)
  const candidates = [
    ['project chain', chainMs],
    ['Jira budget', jiraBudgetMs],
    ['Pinecone budget', pineconeBudgetMs],
  ] as const
  const [decidedBy, ms] = candidates.reduce((a, b) => (b[1] > a[1] ? b : a))
  return { ms, decidedBy, jiraRequests, chainMs, jiraBudgetMs, pineconeBudgetMs }
}
