import { describe, expect, it } from 'vitest'
import { upstreamBound } from './upstream-bound.ts'

const latencies = { jiraSearch: 300, embed: 150, upsert: 80 }
const budgets = {
  'jira-search': { limit: 10, windowMs: 1000 },
  pinecone: { limit: 50, windowMs: 1000 },
}

describe('upstream bound', () => {
  it('is one project’s page chain when the budgets leave room: its pages, then the last write', () => {
    const bound = upstreamBound({
      projects: [3000],
      pageSize: 100,
      keyPageSize: 5000,
      latencies,
      budgets,
      pineconeRequests: 96,
    })
    // 30 pages of 300 ms, then one embed (150) and one upsert (80); the key scan (one page) runs
    // beside the pages.
    expect(bound).toMatchObject({ decidedBy: 'project chain', ms: 9230, chainMs: 9230 })
    // 30 + 1 searches: the 31st starts 3 s in.
    expect(bound.jiraSearches).toBe(31)
    expect(bound.jiraBudgetMs).toBe(3300)
  })

  it('is Jira’s budget when projects side by side ask more than it allows', () => {
    const bound = upstreamBound({
      projects: [2434, 2511, 2485, 2570],
      pageSize: 100,
      keyPageSize: 5000,
      latencies,
      budgets,
      pineconeRequests: 300,
    })
    // 25 + 26 + 25 + 26 pages and a key scan each: 106 searches, the last 10 s in.
    expect(bound.jiraSearches).toBe(106)
    expect(bound).toMatchObject({ decidedBy: 'Jira budget', ms: 10_300 })
    expect(bound.chainMs).toBe(26 * 300 + 230)
  })

  it('is a key scan longer than the pages when the window holds few of a project’s issues', () => {
    const bound = upstreamBound({
      projects: [20_001],
      pageSize: 100_000, // one page of the window
      keyPageSize: 5000,
      latencies,
      budgets,
      pineconeRequests: 1,
    })
    expect(bound.chainMs).toBe(5 * 300)
  })

  it('is Pinecone’s budget when its requests are the most', () => {
    const bound = upstreamBound({
      projects: [100],
      pageSize: 100,
      keyPageSize: 5000,
      latencies,
      budgets,
      pineconeRequests: 501,
    })
    expect(bound).toMatchObject({ decidedBy: 'Pinecone budget', ms: 10_080 })
  })
})
