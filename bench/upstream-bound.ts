// What the upstreams' latencies and our pace budgets allow a Jira backfill (README, "Benchmarks"):
// - a project's pages follow one another (each page's token comes with the page before), one
//   search latency each, plus the last page's write (an embed and an upsert; earlier pages' writes
//   overlap the next page); its reconcile's key-scan pages follow one another too, beside the
//   pages: the project's chain is the longer of the two;
// - all of Jira's searches (pages and key-scan pages) start within the search budget (`limit` a
//   window): the last one starts no sooner than ⌊(searches − 1) ÷ limit⌋ windows in, and takes a
//   search latency (the project look-ups go under Jira's budget for its other endpoints, and are
//   too few to decide anything);
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
  budgets: { 'jira-search': PaceBudget; pinecone: PaceBudget }
  /** Pinecone requests of the run (embeds, upserts, listings, checks), from the fake's log */
  pineconeRequests: number
}

export type Bound = {
  ms: number
  /** which limit decides it */
  decidedBy: 'project chain' | 'Jira budget' | 'Pinecone budget'
  jiraSearches: number
  chainMs: number
  jiraBudgetMs: number
  pineconeBudgetMs: number
}

const pagesOf = (issues: number, size: number) => Math.max(1, Math.ceil(issues / size))

/** The shortest time the upstreams allow for the backfill of `input.projects`. */
export function upstreamBound(input: BoundInput): Bound {
  const { latencies, budgets } = input
  const write = latencies.embed + latencies.upsert
  const chains = input.projects.map((issues) =>
    Math.max(
      pagesOf(issues, input.pageSize) * latencies.jiraSearch + write,
      pagesOf(issues, input.keyPageSize) * latencies.jiraSearch,
    ),
  )
  const chainMs = Math.max(...chains)
  // Per project: its pages and its key-scan pages.
  const jiraSearches = input.projects.reduce(
    (sum, issues) => sum + pagesOf(issues, input.pageSize) + pagesOf(issues, input.keyPageSize),
    0,
  )
  const budgetMs = (requests: number, budget: PaceBudget, latency: number) =>
    Math.floor(Math.max(0, requests - 1) / budget.limit) * budget.windowMs + latency
  const jiraBudgetMs = budgetMs(jiraSearches, budgets['jira-search'], latencies.jiraSearch)
  const pineconeBudgetMs = budgetMs(input.pineconeRequests, budgets.pinecone, latencies.upsert)
  const candidates = [
    ['project chain', chainMs],
    ['Jira budget', jiraBudgetMs],
    ['Pinecone budget', pineconeBudgetMs],
  ] as const
  const [decidedBy, ms] = candidates.reduce((a, b) => (b[1] > a[1] ? b : a))
  return { ms, decidedBy, jiraSearches, chainMs, jiraBudgetMs, pineconeBudgetMs }
}
