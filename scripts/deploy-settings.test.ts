import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigError, SETTINGS } from '#core/config.ts'
import { readProjectEnvironment } from './deploy-project.ts'
import {
  type DeployEnvironment,
  deployEnvironment,
  differencesFromDeployer,
} from './deploy-settings.ts'

const project = await readProjectEnvironment()

const REQUIRED: Record<string, string> = {
  DATABASE_URL: 'postgres://fn:pw@db.example.com:25061/pool?sslmode=require',
  JWT_SECRET_KEY: 'settings-test-secret-that-is-long-enough-1',
  GOOGLE_CLIENT_ID: 'settings-test.apps.googleusercontent.com',
  ALLOWED_EMAIL_DOMAINS: 'example.com',
  UPSTASH_REDIS_REST_URL: 'https://eu1-settings.upstash.io',
  UPSTASH_REDIS_REST_TOKEN: 'settings-test-upstash-token',
  WEB_BASE_URL: 'https://pm.example.com',
  JIRA_BASE_URL: 'https://acme.atlassian.net',
  JIRA_EMAIL: 'bot@example.com',
  JIRA_API_TOKEN: 'settings-test-jira-token',
  TEMPO_API_TOKEN: 'settings-test-tempo-token',
  PINECONE_API_KEY: 'settings-test-pinecone-key',
  PINECONE_INDEX_HOST: 'https://idx-abc.svc.pinecone.io',
}

// A valid value for each optional setting this test knows; settings added later stay unset here.
const OPTIONAL_SAMPLES: Record<string, string> = {
  APP_VERSION: '2026.12.03',
  LOG_LEVEL: 'debug',
  DATABASE_CA_CERT: Buffer.from(
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
  ).toString('base64'),
  DB_POOL_MAX: '2',
  JWT_SECRET_KEY_PREVIOUS: 'settings-test-previous-secret-long-enough',
  JWT_TTL_HOURS: '12',
  GOOGLE_JWKS_URL: 'https://keys.example.com/certs',
  ADMIN_EMAILS: 'lead@example.com',
  ADMIN_API_KEY_SHA256: 'a'.repeat(64),
  RATE_LIMIT_TIMEOUT_MS: '500',
  TEMPO_BASE_URL: 'https://api.eu.tempo.io',
  PINECONE_NAMESPACE: 'docs',
  PINECONE_EMBED_MODEL: 'multilingual-e5-large',
  PINECONE_CONTROLLER_URL: 'https://api.pinecone.io',
  JOB_RETENTION_DAYS: '3',
}
const optionalNames = SETTINGS.filter((setting) => !setting.requiredInProduction).map(
  (setting) => setting.name,
)

function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    deployEnvironment(env, project)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('deployEnvironment accepted the settings')
}

describe('deployEnvironment', () => {
  it('carries the required settings and exactly the optional ones set, whichever they are', () => {
    const known = Object.keys(OPTIONAL_SAMPLES).filter((name) => optionalNames.includes(name))
    fc.assert(
      fc.property(fc.subarray(known), fc.subarray(known), (set, blank) => {
        const env: Record<string, string> = { ...REQUIRED }
        for (const name of blank) {
          env[name] = ' '
        }
        for (const name of set) {
          env[name] = OPTIONAL_SAMPLES[name] ?? ''
        }
        const result = deployEnvironment(env, project)
        expect(result.literal).toEqual({ APP_ENV: 'production' })
        expect([...result.required].sort()).toEqual(Object.keys(REQUIRED).sort())
        expect([...result.optional].sort()).toEqual([...set].sort())
        expect([...result.optional, ...result.unset].sort()).toEqual(
          optionalNames.filter((name) => name !== 'APP_ENV').sort(),
        )
      }),
      { numRuns: 100 },
    )
  })

  it('names every missing, blank or invalid setting, and never quotes a value', () => {
    fc.assert(
      fc.property(
        fc.subarray(Object.keys(REQUIRED), { minLength: 1 }),
        fc.constantFrom('', ' ', undefined),
        (dropped, blank) => {
          const env: Record<string, string | undefined> = { ...REQUIRED, LOG_LEVEL: 'loud' }
          for (const name of dropped) {
            env[name] = blank
          }
          const error = refusal(env)
          expect([...error.variables].sort()).toEqual([...dropped, 'LOG_LEVEL'].sort())
          for (const value of Object.values(REQUIRED)) {
            expect(error.message).not.toContain(value)
          }
        },
      ),
      { numRuns: 50 },
    )
  })

  it('refuses values the deployer would change: a double quote or a backslash other than \\n', () => {
    for (const value of [
      'pass"word-that-is-long-enough-for-hs256',
      'tab\\tin-a-secret-long-enough-to-pass',
    ]) {
      const error = refusal({ ...REQUIRED, JWT_SECRET_KEY: value })
      expect(error.variables).toEqual(['JWT_SECRET_KEY'])
      expect(error.message).not.toContain(value)
    }
    const pem = '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----'
    expect(deployEnvironment({ ...REQUIRED, DATABASE_CA_CERT: pem }, project).optional).toEqual([
      'DATABASE_CA_CERT',
    ])
  })

  it('deploys APP_ENV as project.yml fixes it, whatever the operator set', () => {
    const result = deployEnvironment({ ...REQUIRED, APP_ENV: 'development' }, project)
    expect(result.literal).toEqual({ APP_ENV: 'production' })
    expect(result.overridden).toEqual(['APP_ENV'])
    expect(deployEnvironment({ ...REQUIRED, APP_ENV: 'production' }, project).overridden).toEqual(
      [],
    )
  })

  it('refuses a placeholder for a setting the functions do not read', () => {
    expect(deployEnvironment({ ...REQUIRED, EXTRA: 'x' }, project).optional).toEqual([])
    const withExtra = { ...project, EXTRA: `\${EXTRA}` }
    expect(() => deployEnvironment({ ...REQUIRED, EXTRA: 'x' }, withExtra)).toThrow(
      'project.yml asks for settings the functions do not read: EXTRA',
    )
  })
})

describe('differencesFromDeployer', () => {
  const environment: DeployEnvironment = {
    literal: { APP_ENV: 'production' },
    required: ['JWT_SECRET_KEY'],
    optional: ['DATABASE_CA_CERT'],
    unset: [],
    overridden: [],
  }
  const env = { JWT_SECRET_KEY: 's'.repeat(40), DATABASE_CA_CERT: 'a\\nb' }

  it('accepts what the deployer read as the operator wrote it, a literal \\n as a line break', () => {
    expect(
      differencesFromDeployer(
        { APP_ENV: 'production', JWT_SECRET_KEY: 's'.repeat(40), DATABASE_CA_CERT: 'a\nb' },
        env,
        environment,
      ),
    ).toEqual([])
  })

  it('names a setting read differently, missing, or not asked for', () => {
    expect(
      differencesFromDeployer(
        { APP_ENV: 'production', JWT_SECRET_KEY: 's'.repeat(39), EXTRA: 'x' },
        env,
        environment,
      ),
    ).toEqual(['JWT_SECRET_KEY', 'DATABASE_CA_CERT', 'EXTRA'])
  })
})
