// `npm run deploy`, step 2: the project the deployer reads, in its own directory (dist/ by
// default): project.yml with the environment this deployment carries, and the built packages/.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMap, parseDocument, Scalar } from 'yaml'
import { buildAll } from './build.ts'
import type { DeployEnvironment, ProjectEnvironment } from './deploy-settings.ts'
import { ROOT } from './project.ts'

/** project.yml's top-level `environment` (every value a string, as the deployer requires). */
export async function readProjectEnvironment(root = ROOT): Promise<ProjectEnvironment> {
  const document = parseDocument(await readFile(join(root, 'project.yml'), 'utf8'))
  const environment = document.toJS().environment ?? {}
  return Object.fromEntries(
    Object.entries(environment as Record<string, unknown>).map(([name, value]) => [
      name,
      String(value),
    ]),
  )
}

function quoted(value: string): Scalar {
  // Double quotes keep a substituted value a string whatever it looks like (`123`, `a: b`).
  const scalar = new Scalar(value)
  scalar.type = Scalar.QUOTE_DOUBLE
  return scalar
}

/**
 * The repository's project.yml with its environment replaced by the deployment's: the literals,
 * then a placeholder for each required setting and each optional one the operator set. The
 * deployer fills the placeholders from the environment, so no value is written to disk.
 */
export async function deployProjectYaml(environment: DeployEnvironment): Promise<string> {
  const document = parseDocument(await readFile(join(ROOT, 'project.yml'), 'utf8'))
  const entries: Array<[string, Scalar]> = [
    ...Object.entries(environment.literal).map(([name, value]): [string, Scalar] => [
      name,
      quoted(value),
    ]),
    ...[...environment.required, ...environment.optional].map((name): [string, Scalar] => [
      name,
      quoted(`\${${name}}`),
    ]),
  ]
  const map = document.createNode(Object.fromEntries(entries))
  if (!isMap(map)) {
    throw new Error('project.yml: the environment did not become a map')
  }
  document.set('environment', map)
  // The deployer substitutes placeholders in comments too, so none may hold one.
  document.commentBefore =
    " Written by `npm run deploy` from the repository's project.yml, with the optional settings\n" +
    ' the operator set. Edit that file, never this one.'
  return document.toString({ lineWidth: 0 })
}

/**
 * Writes the deployable project into `outDir`: project.yml for this deployment and the bundles
 * in packages/. The deployer writes its `.deployed/` status there too.
 */
export async function writeDeployProject(options: {
  environment: DeployEnvironment
  outDir: string
  mapsDir?: string
}): Promise<void> {
  await mkdir(options.outDir, { recursive: true })
  await writeFile(join(options.outDir, 'project.yml'), await deployProjectYaml(options.environment))
  await buildAll({
    quiet: true,
    outDir: options.outDir,
    ...(options.mapsDir !== undefined && { mapsDir: options.mapsDir }),
  })
}
