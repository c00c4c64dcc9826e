import type { Pacer } from '#core/rate-limit/pacer.ts'
import { createJiraClient, type JiraClient } from '#core/upstreams/jira/client.ts'
import { createPineconeSink, type PineconeSink } from '#core/upstreams/pinecone/client.ts'
import { createTempoClient, type TempoClient } from '#core/upstreams/tempo/client.ts'
import type { Config } from './config.ts'

/** The upstream clients; each is `undefined` when its settings are missing. */
export type Upstreams = {
  jira: JiraClient | undefined
  pinecone: PineconeSink | undefined
  tempo: TempoClient | undefined
}

/**
 * Builds the clients the configuration has settings for. Each paces through the shared budget and
 * shares a 429's pause with every other worker. Only entries that call upstreams import this, so
 * the others (login, cleanup) bundle none of their SDKs.
 */
export function createUpstreams(config: Config, pacer: Pacer): Upstreams {
  return {
    jira: createJira(config, pacer),
    pinecone: createPinecone(config, pacer),
    tempo: createTempo(config, pacer),
  }
}

function createTempo(config: Config, pacer: Pacer): TempoClient | undefined {
  return (
    config.tempo &&
    createTempoClient({
      ...config.tempo,
      pace: (signal) => pacer.acquire('tempo', signal),
      onThrottle: (untilMs) => pacer.pauseUntil('tempo', untilMs),
    })
  )
}

function createJira(config: Config, pacer: Pacer): JiraClient | undefined {
  return (
    config.jira &&
    createJiraClient({
      ...config.jira,
      pace: (signal, endpoint) => pacer.acquire(jiraBudget(endpoint), signal),
      onThrottle: (untilMs, endpoint) => pacer.pauseUntil(jiraBudget(endpoint), untilMs),
    })
  )
}

// Jira's search endpoint has a budget of its own (`PACE_BUDGETS`).
const jiraBudget = (endpoint: string | undefined) =>
  endpoint === 'search' ? 'jira-search' : 'jira'

function createPinecone(config: Config, pacer: Pacer): PineconeSink | undefined {
  return (
    config.pinecone &&
    createPineconeSink({
      ...config.pinecone,
      pace: (signal) => pacer.acquire('pinecone', signal),
      onThrottle: (untilMs) => pacer.pauseUntil('pinecone', untilMs),
    })
  )
}
