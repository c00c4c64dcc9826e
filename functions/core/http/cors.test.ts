import { describe, expect, it } from 'vitest'
import { testConfig } from '#test/config.ts'
import { corsHeaders, isAllowedOrigin } from './cors.ts'

describe('CORS', () => {
  const production = testConfig({
    APP_ENV: 'production',
    WEB_BASE_URL: 'https://pm.example.com',
    UPSTASH_REDIS_REST_URL: 'https://up.example',
    UPSTASH_REDIS_REST_TOKEN: 't',
    JIRA_BASE_URL: 'https://acme.atlassian.net',
    JIRA_EMAIL: 'bot@example.com',
    JIRA_API_TOKEN: 't',
    TEMPO_API_TOKEN: 't',
    PINECONE_API_KEY: 'k',
    PINECONE_INDEX_HOST: 'https://index.example',
  })
  const development = testConfig()

  it('allows exactly WEB_BASE_URL in production', () => {
    expect(isAllowedOrigin(production, 'https://pm.example.com')).toBe(true)
    expect(isAllowedOrigin(production, 'https://pm.example.com.evil.test')).toBe(false)
    expect(isAllowedOrigin(production, 'http://localhost:3000')).toBe(false)
  })

  it('allows localhost origins in development only', () => {
    expect(isAllowedOrigin(development, 'http://localhost:5173')).toBe(true)
    expect(isAllowedOrigin(development, 'http://127.0.0.1:3000')).toBe(true)
    expect(isAllowedOrigin(development, 'http://localhost.evil.test')).toBe(false)
  })

  it('answers preflights with methods and headers, and exposes the rate-limit headers', () => {
    const headers = corsHeaders(production, 'https://pm.example.com', true)
    expect(headers['Access-Control-Allow-Origin']).toBe('https://pm.example.com')
    expect(headers['Access-Control-Allow-Headers']).toContain('Authorization')
    expect(headers['Access-Control-Expose-Headers']).toContain('Retry-After')
    expect(headers['Access-Control-Expose-Headers']).toContain('RateLimit-Remaining')
    // Script reads our request id, and the client's own beside it, to quote in a report.
    expect(headers['Access-Control-Expose-Headers']?.split(', ')).toEqual(
      expect.arrayContaining(['X-Request-Id', 'X-Client-Request-Id', 'Location']),
    )
    expect(
      corsHeaders(production, 'https://evil.test', true)['Access-Control-Allow-Origin'],
    ).toBeUndefined()
  })
})
