import { createJiraClient, type JiraClientOptions } from '#core/upstreams/jira/client.ts'
import { createPineconeSink, type PineconeSinkOptions } from '#core/upstreams/pinecone/client.ts'
import { createTempoClient, type TempoClientOptions } from '#core/upstreams/tempo/client.ts'
import type { FakeJira } from '#sandbox/fakes/jira.ts'
import type { FakePinecone } from '#sandbox/fakes/pinecone.ts'
import type { FakeTempo } from '#sandbox/fakes/tempo.ts'

/** The settings that point config at the given fakes (for `testConfig`/`testServices`). */
export function upstreamEnv(fakes: {
  jira?: FakeJira
  tempo?: FakeTempo
  pinecone?: FakePinecone
}): Record<string, string> {
  const { jira, tempo, pinecone } = fakes
  return {
    ...(jira && {
      JIRA_BASE_URL: jira.url,
      JIRA_EMAIL: jira.email,
      JIRA_API_TOKEN: jira.apiToken,
    }),
    ...(tempo && { TEMPO_BASE_URL: tempo.url, TEMPO_API_TOKEN: tempo.apiToken }),
    ...(pinecone && {
      PINECONE_API_KEY: pinecone.apiKey,
      PINECONE_INDEX_HOST: pinecone.url,
      PINECONE_CONTROLLER_URL: pinecone.url,
    }),
  }
}

// Clients on a fake with no in-process retries unless a test is about them: one fault, one answer.

/** The real Jira client on the fake. */
export function jiraClientOn(jira: FakeJira, overrides: Partial<JiraClientOptions> = {}) {
  return createJiraClient({
    baseUrl: jira.url,
    email: jira.email,
    apiToken: jira.apiToken,
    retry: { attempts: 0 },
    ...overrides,
  })
}

/** The real Tempo client on the fake. */
export function tempoClientOn(tempo: FakeTempo, overrides: Partial<TempoClientOptions> = {}) {
  return createTempoClient({
    baseUrl: tempo.url,
    apiToken: tempo.apiToken,
    retry: { attempts: 0 },
    ...overrides,
  })
}

/** The real Pinecone sink on the fake (controller and index host both), default namespace. */
export function pineconeSinkOn(
  pinecone: FakePinecone,
  overrides: Partial<PineconeSinkOptions> = {},
) {
  return createPineconeSink({
    apiKey: pinecone.apiKey,
    indexHost: pinecone.url,
    controllerUrl: pinecone.url,
    namespace: '',
    embedModel: 'llama-text-embed-v2',
    maxRetries: 0,
    ...overrides,
  })
}
