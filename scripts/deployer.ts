// `npm run deploy`, step 3: the project read by the deployer's own reader. `doctl serverless
// deploy` is built on DigitalOcean's functions-deployer, which is not published on npm; its
// published predecessor, @nimbella/nimbella-deployer, has the same reader and substitution rules
// (README, "Deploying and operating").
import { createRequire } from 'node:module'
import type * as Deployer from '@nimbella/nimbella-deployer'
import type { DeployStructure, Feedback, RuntimesConfig } from '@nimbella/nimbella-deployer'

/** The Node runtimes DigitalOcean lists (README, "Deploying and operating"); doctl asks the API. */
export const DIGITALOCEAN_RUNTIMES: RuntimesConfig = {
  nodejs: [
    { kind: 'nodejs:14', default: false },
    { kind: 'nodejs:18', default: true },
    { kind: 'nodejs:22', default: false },
    { kind: 'nodejs:24', default: false },
  ],
}

/** The deployer module, loaded on first use: it brings about 50 MB of dependencies. */
export function loadDeployer(): typeof Deployer {
  return createRequire(import.meta.url)('@nimbella/nimbella-deployer') as typeof Deployer
}

/** One function as the deployer read it. */
export type ReadFunction = {
  name: string
  runtime: string
  web: boolean | 'raw'
  annotations: Record<string, unknown>
  limits: { timeout?: number; memory?: number }
  hasCode: boolean
}

/** One scheduled trigger as the deployer read it. */
export type ReadTrigger = { name: string; function: string; cron: string; body: unknown }

/** What the deployer would deploy, without a single setting's value. */
export type ReadProject = {
  functions: ReadFunction[]
  triggers: ReadTrigger[]
  environmentNames: string[]
  strays: string[]
  warnings: string[]
}

/** The deployer's reading of a project, or its error. Values stay inside `environment`. */
export type DeployerReading = { project: ReadProject; environment: Record<string, unknown> }

/**
 * Reads `dir` with the deployer's `readProject`, which fills placeholders from `process.env`
 * and then `envPath` (a .env file). No network call is made.
 * @throws {Error} the deployer's own message (it names unresolved settings, never values)
 */
export async function readAsDeployer(
  dir: string,
  options: { envPath?: string; runtimes?: RuntimesConfig } = {},
): Promise<DeployerReading> {
  const deployer = loadDeployer()
  const warnings: string[] = []
  const feedback: Feedback = {
    warn: (...parts: unknown[]) => warnings.push(parts.map(String).join(' ')),
    progress: () => {},
  }
  const spec: DeployStructure = await deployer.readProject(
    dir,
    options.envPath as string, // the reader treats undefined as "no file"
    undefined as unknown as string,
    deployer.makeIncluder('', ''),
    false,
    feedback,
    options.runtimes ?? DIGITALOCEAN_RUNTIMES,
  )
  if (spec.error) {
    throw spec.error
  }
  return { project: summarize(spec, warnings), environment: { ...spec.environment } }
}

function summarize(spec: DeployStructure, warnings: string[]): ReadProject {
  const functions: ReadFunction[] = []
  const triggers: ReadTrigger[] = []
  for (const pkg of spec.packages ?? []) {
    for (const action of pkg.actions ?? []) {
      const name = `${pkg.name}/${action.name}`
      functions.push({
        name,
        runtime: action.runtime ?? '',
        web: action.web === 'raw' ? 'raw' : action.web !== false,
        annotations: { ...action.annotations },
        limits: { ...action.limits },
        hasCode: action.file !== undefined,
      })
      for (const trigger of action.triggers ?? []) {
        const details = trigger.sourceDetails as { cron?: string; withBody?: unknown }
        triggers.push({
          name: trigger.name,
          function: name,
          cron: details.cron ?? '',
          body: details.withBody,
        })
      }
    }
  }
  return {
    functions: functions.sort((a, b) => a.name.localeCompare(b.name)),
    triggers: triggers.sort((a, b) => a.name.localeCompare(b.name)),
    environmentNames: Object.keys(spec.environment ?? {}),
    strays: spec.strays ?? [],
    warnings,
  }
}
