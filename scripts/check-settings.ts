// `npm run deploy`, step 1: the settings in the environment (or .env) must load as production config.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '#core/config.ts'
import { ROOT } from './project.ts'

if (existsSync(join(ROOT, '.env'))) {
  process.loadEnvFile(join(ROOT, '.env'))
}
try {
  const config = loadConfig({ ...process.env, APP_ENV: process.env.APP_ENV || 'production' })
  if (!config.isProduction) {
    process.stderr.write(
      `warning: APP_ENV is ${config.env}; deploying a non-production configuration\n`,
    )
  }
  process.stdout.write('settings: ok\n')
} catch (err) {
  process.stderr.write(`settings: ${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exit(1)
}
