// `npm run deploy [-- --dry-run] [--env FILE] [--out DIR] [--maps DIR]`: settings → build → the project read by
// the deployer's reader → db:migrate → `doctl serverless deploy dist`. A dry run stops after the
// reading and prints what would be deployed: functions, triggers and setting names, never values.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { parseArgs, parseEnv } from 'node:util'
import { ConfigError } from '#core/config.ts'
import { readProjectEnvironment, writeDeployProject } from './deploy-project.ts'
import {
  type DeployEnvironment,
  deployEnvironment,
  differencesFromDeployer,
} from './deploy-settings.ts'
import { type ReadProject, readAsDeployer } from './deployer.ts'
import { ROOT } from './project.ts'

const say = (line = '') => process.stdout.write(`${line}\n`)

class DeployError extends Error {
  override readonly name = 'DeployError'
}

function masked(err: unknown, names: readonly string[]): string {
  let message = err instanceof Error ? err.message : String(err)
  for (const name of names) {
    const value = process.env[name]
    if (value && value.length >= 4) {
      message = message.replaceAll(value, `<${name}>`)
    }
  }
  return message
}

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: process.env })
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT'
    throw new DeployError(
      missing
        ? `${command} is not installed (https://docs.digitalocean.com/reference/doctl/)`
        : `${what}: ${result.error.message}`,
    )
  }
  if (result.status !== 0) {
    throw new DeployError(`${what} failed (exit code ${result.status})`)
  }
}

/** Where each setting comes from, by name: the deployer, like us, prefers the environment. */
function sources(envFile: string | undefined): (name: string) => string {
  const fromFile = envFile ? parseEnv(readFileSync(envFile, 'utf8')) : {}
  const shell = { ...process.env }
  return (name) => (shell[name]?.trim() ? 'environment' : name in fromFile ? '.env' : '?')
}

function printPlan(
  project: ReadProject,
  environment: DeployEnvironment,
  sourceOf: (name: string) => string,
) {
  say()
  say(`functions (${project.functions.length}):`)
  for (const fn of project.functions) {
    const web = fn.web === 'raw' ? 'web: raw' : fn.web ? 'web' : 'not web'
    const limits = `timeout ${(fn.limits.timeout ?? 0) / 1000} s, memory ${fn.limits.memory ?? '?'} MB`
    const annotations = Object.keys(fn.annotations).join(', ')
    say(
      `  ${fn.name.padEnd(18)} ${fn.runtime}  ${web.padEnd(9)} ${limits}${annotations ? `  (${annotations})` : ''}`,
    )
  }
  say(`triggers (${project.triggers.length}):`)
  for (const trigger of project.triggers) {
    say(`  ${trigger.name.padEnd(26)} ${trigger.cron.padEnd(11)} → ${trigger.function}`)
  }
  const literal = Object.entries(environment.literal)
  const bySource = (names: readonly string[]) => {
    const groups = new Map<string, string[]>()
    for (const name of names) {
      groups.set(sourceOf(name), [...(groups.get(sourceOf(name)) ?? []), name])
    }
    return [...groups].map(([source, group]) => `from ${source}: ${group.join(', ')}`)
  }
  say(`environment (${project.environmentNames.length} names; values are never shown):`)
  say(`  fixed in project.yml: ${literal.map(([name, value]) => `${name}=${value}`).join(', ')}`)
  say(`  required (${environment.required.length}):`)
  for (const line of bySource(environment.required)) {
    say(`    ${line}`)
  }
  say(`  optional, set (${environment.optional.length}):`)
  for (const line of bySource(environment.optional)) {
    say(`    ${line}`)
  }
  say(`  optional, unset (the code's defaults apply): ${environment.unset.join(', ') || '(none)'}`)
  for (const name of environment.overridden) {
    say(`  note: ${name} from ${sourceOf(name)} is not deployed; project.yml fixes it`)
  }
  for (const warning of project.warnings) {
    say(`  deployer warning: ${warning}`)
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      env: { type: 'string' },
      out: { type: 'string' },
      maps: { type: 'string' },
    },
  })
  const dryRun = values['dry-run']
  const envFile = values.env ? resolve(values.env) : join(ROOT, '.env')
  const outDir = values.out ? resolve(values.out) : join(ROOT, 'dist')
  // The source maps of what was deployed, to read its stack traces against.
  const mapsDir = values.maps ? resolve(values.maps) : join(ROOT, '.cache', 'deployed-sourcemaps')
  if (values.env && !existsSync(envFile)) {
    throw new DeployError(`no such file: ${values.env}`)
  }
  const haveEnvFile = existsSync(envFile)
  const sourceOf = sources(haveEnvFile ? envFile : undefined)
  if (haveEnvFile) {
    process.loadEnvFile(envFile) // never overrides the environment, as the deployer reads it
  }
  if (!dryRun) {
    run('doctl', ['version'], 'doctl')
  }

  say(`[1/4] settings (environment${haveEnvFile ? `, then ${relative(ROOT, envFile)}` : ''})…`)
  const environment = deployEnvironment(process.env, await readProjectEnvironment())
  say(
    `      ok: ${environment.required.length} required, ${environment.optional.length} optional set`,
  )
  if (
    /[?&]sslmode=/.test(process.env.DATABASE_URL ?? '') &&
    !environment.optional.includes('DATABASE_CA_CERT')
  ) {
    say(
      "      warning: DATABASE_URL asks for TLS but DATABASE_CA_CERT is unset; DigitalOcean's CA is not in Node's trust store",
    )
  }

  say(`[2/4] building the functions into ${relative(ROOT, outDir) || '.'}/…`)
  await writeDeployProject({ environment, outDir, mapsDir })

  say('[3/4] reading the project as the deployer does…')
  const carried = [...environment.required, ...environment.optional]
  const reading = await readAsDeployer(outDir).catch((err: unknown) => {
    // The reader's messages name settings; a YAML error could quote a line, so mask values.
    throw new DeployError(`the deployer cannot read the project: ${masked(err, carried)}`)
  })
  const differing = differencesFromDeployer(reading.environment, process.env, environment)
  if (differing.length > 0) {
    throw new DeployError(
      `the deployer reads these settings differently (a backslash in the value?): ${differing.join(', ')}`,
    )
  }
  if (reading.project.strays.length > 0) {
    say(`      the deployer ignores: ${reading.project.strays.join(', ')}`)
  }
  printPlan(reading.project, environment, sourceOf)

  if (dryRun) {
    say()
    say('dry run: nothing migrated or deployed.')
    return
  }
  say()
  say('[4/4] migrating, then deploying…')
  run('npm', ['run', 'db:migrate'], 'npm run db:migrate')
  run('doctl', ['serverless', 'deploy', outDir], 'doctl serverless deploy')
}

main().catch((err: unknown) => {
  const message =
    err instanceof ConfigError || err instanceof DeployError
      ? err.message
      : err instanceof Error
        ? err.message
        : String(err)
  process.stderr.write(`deploy: ${message}\n`)
  process.exit(1)
})
