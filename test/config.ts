import { type Config, loadConfig } from '#core/config.ts'

/** A complete, valid test environment; tests override what they are about. */
export function testEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    APP_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
    JWT_SECRET_KEY: 'test-secret-key-that-is-at-least-32-bytes',
    GOOGLE_CLIENT_ID: 'fake-client-id.apps.googleusercontent.com',
    ALLOWED_EMAIL_DOMAINS: 'example.com',
    ADMIN_EMAILS: 'boss@example.com',
    ...overrides,
  }
}

/** A `Config` from `testEnv(overrides)`. */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(overrides))
}
