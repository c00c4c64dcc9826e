import { describe, expect, it } from 'vitest'
import { testEnv } from '#test/config.ts'
import { ConfigError, loadConfig, SETTINGS } from './config.ts'

function configError(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env)
    return 'no error'
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
}

describe('loadConfig', () => {
  it('applies defaults and splits comma lists, lower-cased', () => {
    const config = loadConfig(
      testEnv({ ALLOWED_EMAIL_DOMAINS: 'Example.com, other.org', ADMIN_EMAILS: 'A@Example.com' }),
    )
    expect(config.auth.allowedEmailDomains).toEqual(['example.com', 'other.org'])
    expect(config.auth.adminEmails).toEqual(['a@example.com'])
    expect(config.auth.tokenTtlHours).toBe(24)
    expect(config.database.poolMax).toBe(1)
    expect(config.jobs.retentionDays).toBe(7)
    expect(config.jira).toBeUndefined()
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('names every bad variable and never quotes a value', () => {
    const message = configError(
      testEnv({ JWT_SECRET_KEY: 'too-short-secret', DATABASE_URL: undefined, DB_POOL_MAX: 'many' }),
    )
    expect(message).toContain('JWT_SECRET_KEY')
    expect(message).toContain('DATABASE_URL')
    expect(message).toContain('DB_POOL_MAX')
    expect(message).not.toContain('too-short-secret')
  })

  it('refuses to start without a Google client id or allowed domains', () => {
    expect(configError(testEnv({ GOOGLE_CLIENT_ID: '' }))).toContain('GOOGLE_CLIENT_ID')
    expect(configError(testEnv({ ALLOWED_EMAIL_DOMAINS: ' , ' }))).toContain(
      'ALLOWED_EMAIL_DOMAINS',
    )
  })

  it('treats every allowed domain as a Workspace domain unless WORKSPACE_DOMAINS says otherwise', () => {
    const domains = { ALLOWED_EMAIL_DOMAINS: 'example.com, gmail.com' }
    expect(loadConfig(testEnv(domains)).auth.workspaceDomains).toEqual(['example.com', 'gmail.com'])
    const some = loadConfig(testEnv({ ...domains, WORKSPACE_DOMAINS: 'Example.com' }))
    expect(some.auth.workspaceDomains).toEqual(['example.com'])
    const none = loadConfig(testEnv({ ...domains, WORKSPACE_DOMAINS: 'none' }))
    expect(none.auth.workspaceDomains).toEqual([])
    expect(configError(testEnv({ ...domains, WORKSPACE_DOMAINS: 'other.org' }))).toBe(
      'Missing or invalid environment variables: WORKSPACE_DOMAINS',
    )
  })

  it('refuses e-mails and domains that are not plain ASCII (the Kelvin sign lower-cases to k)', () => {
    expect(configError(testEnv({ ADMIN_EMAILS: 'lea\u212a@example.com' }))).toContain(
      'ADMIN_EMAILS',
    )
    expect(configError(testEnv({ ALLOWED_EMAIL_DOMAINS: 'exampl\u00e9.com' }))).toContain(
      'ALLOWED_EMAIL_DOMAINS',
    )
    expect(configError(testEnv({ WORKSPACE_DOMAINS: 'example.co\u212a' }))).toContain(
      'WORKSPACE_DOMAINS',
    )
  })

  it('reads monitor token digests like admin key digests', () => {
    const digest = 'a'.repeat(64)
    expect(loadConfig(testEnv({ MONITOR_TOKEN_SHA256: digest })).auth.monitorTokenDigests).toEqual([
      digest,
    ])
    expect(loadConfig(testEnv()).auth.monitorTokenDigests).toEqual([])
    expect(configError(testEnv({ MONITOR_TOKEN_SHA256: 'not-a-digest' }))).toContain(
      'MONITOR_TOKEN_SHA256',
    )
  })

  it('counts secret length in bytes', () => {
    expect(() => loadConfig(testEnv({ JWT_SECRET_KEY: 'é'.repeat(16) }))).not.toThrow()
    expect(configError(testEnv({ JWT_SECRET_KEY: 'é'.repeat(15) }))).toContain('JWT_SECRET_KEY')
  })

  it('names the production requirements in the same message as the invalid variables', () => {
    const message = configError(testEnv({ APP_ENV: 'production', JWT_SECRET_KEY: 'short' }))
    expect(message).toContain('JWT_SECRET_KEY')
    expect(message).toContain('UPSTASH_REDIS_REST_URL')
  })

  it('requires every upstream and the rate-limit store in production', () => {
    const message = configError(testEnv({ APP_ENV: 'production' }))
    for (const name of [
      'UPSTASH_REDIS_REST_URL',
      'WEB_BASE_URL',
      'JIRA_API_TOKEN',
      'PINECONE_INDEX_HOST',
    ]) {
      expect(message).toContain(name)
    }
  })

  it('groups an upstream only when all of its settings are present', () => {
    const partial = loadConfig(testEnv({ JIRA_BASE_URL: 'https://acme.atlassian.net/' }))
    expect(partial.jira).toBeUndefined()
    const full = loadConfig(
      testEnv({
        JIRA_BASE_URL: 'https://acme.atlassian.net/',
        JIRA_EMAIL: 'bot@example.com',
        JIRA_API_TOKEN: 't',
      }),
    )
    expect(full.jira).toEqual({
      baseUrl: 'https://acme.atlassian.net',
      email: 'bot@example.com',
      apiToken: 't',
    })
  })

  it('accepts the CA certificate as PEM, with literal \\n, or base64', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'
    for (const form of [pem, pem.replaceAll('\n', '\\n'), Buffer.from(pem).toString('base64')]) {
      expect(loadConfig(testEnv({ DATABASE_CA_CERT: form })).database.caCert).toBe(pem)
    }
    expect(configError(testEnv({ DATABASE_CA_CERT: 'not a pem' }))).toContain('DATABASE_CA_CERT')
  })

  it('requires admin key digests to be hex SHA-256', () => {
    expect(configError(testEnv({ ADMIN_API_KEY_SHA256: 'abc' }))).toContain('ADMIN_API_KEY_SHA256')
    const digest = 'a'.repeat(64)
    expect(
      loadConfig(testEnv({ ADMIN_API_KEY_SHA256: `${digest}, ${'B'.repeat(64)}` })).auth
        .adminKeyDigests,
    ).toEqual([digest, 'b'.repeat(64)])
  })

  it('never takes a blank or missing APP_ENV for development', () => {
    for (const blank of ['', '  ', undefined]) {
      const error = (() => {
        try {
          loadConfig(testEnv({ APP_ENV: blank }))
          return undefined
        } catch (err) {
          return err
        }
      })()
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).variables).toEqual(['APP_ENV'])
    }
  })
})

describe('SETTINGS', () => {
  it('marks as required in production exactly the settings without a usable default there', () => {
    const required = SETTINGS.filter((setting) => setting.requiredInProduction).map((s) => s.name)
    expect(required).toEqual(
      expect.arrayContaining(['APP_ENV', 'DATABASE_URL', 'JWT_SECRET_KEY', 'JIRA_API_TOKEN']),
    )
    expect(required).not.toContain('LOG_LEVEL')
    expect(required).not.toContain('PINECONE_NAMESPACE')
    expect(required).not.toContain('JWT_SECRET_KEY_PREVIOUS')
    // The list is the schema: a production config loads from the required settings alone.
    const minimal = Object.fromEntries(
      required.map((name) => [name, PRODUCTION_VALUES[name] ?? `missing ${name}`]),
    )
    expect(loadConfig(minimal).isProduction).toBe(true)
  })
})

const PRODUCTION_VALUES: Record<string, string> = {
  APP_ENV: 'production',
  DATABASE_URL: 'postgres://fn:pw@db.example.com:25061/pool',
  JWT_SECRET_KEY: 'config-test-secret-that-is-long-enough-01',
  GOOGLE_CLIENT_ID: 'config-test.apps.googleusercontent.com',
  ALLOWED_EMAIL_DOMAINS: 'example.com',
  UPSTASH_REDIS_REST_URL: 'https://eu1.upstash.io',
  UPSTASH_REDIS_REST_TOKEN: 'token',
  WEB_BASE_URL: 'https://pm.example.com',
  JIRA_BASE_URL: 'https://acme.atlassian.net',
  JIRA_EMAIL: 'bot@example.com',
  JIRA_API_TOKEN: 'token',
  TEMPO_API_TOKEN: 'token',
  PINECONE_API_KEY: 'key',
  PINECONE_INDEX_HOST: 'https://idx.svc.pinecone.io',
}
