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
  if (!config.isProduction && !process.argv.includes('--allow-non-production')) {
    // Outside production CORS allows localhost, and the upstreams and Upstash are optional.
    process.stderr.write(
      `settings: APP_ENV is ${config.env}; set APP_ENV=production (or pass --allow-non-production)\n`,
    )
    process.exit(1)
  }
  if (config.database.caCert === undefined && /[?&]sslmode=/.test(config.database.url)) {
    process.stderr.write(
      "warning: DATABASE_URL asks for TLS but DATABASE_CA_CERT is empty; DigitalOcean's CA is not in Node's trust store\n",
    )
  }
  process.stdout.write('settings: ok\n')
} catch (err) {
  process.stderr.write(`settings: ${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exit(1)
}
