// `npm run deploy`, step 1: which settings a deployment carries, checked with the functions' own
// schema (core/config.ts). Names only: nothing here returns or prints a value.
import { ConfigError, loadConfig, SETTINGS } from '#core/config.ts'

/** What project.yml's top-level `environment` says: literals and `${NAME}` placeholders. */
export type ProjectEnvironment = Readonly<Record<string, string>>

/** The environment a deployment will have, by name. */
export type DeployEnvironment = {
  /** Fixed in project.yml (APP_ENV: production), never taken from the operator. */
  literal: Readonly<Record<string, string>>
  /** Placeholders in project.yml: every deployment must supply them. */
  required: readonly string[]
  /** Optional settings the operator set: added to the deployed project. */
  optional: readonly string[]
  /** Optional settings left unset or blank: the code's defaults apply. */
  unset: readonly string[]
  /** Operator settings that project.yml fixes instead (APP_ENV=development in a shared .env). */
  overridden: readonly string[]
}

const PLACEHOLDER = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/

/** The `${NAME}` a project.yml value stands for, or undefined for a literal. */
export function placeholderName(value: string): string | undefined {
  return PLACEHOLDER.exec(value)?.[1]
}

/**
 * Splits the settings into what project.yml fixes, what it requires and which optional ones the
 * operator set, after validating the lot as the deployed functions will (production).
 * @throws {ConfigError} naming every missing, blank or invalid setting, or one the deployer
 * cannot carry (a double quote or a backslash other than `\n` in its value).
 */
export function deployEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  project: ProjectEnvironment,
): DeployEnvironment {
  const isSet = (name: string) => Boolean(env[name]?.trim())
  const literal: Record<string, string> = {}
  const required: string[] = []
  for (const [name, value] of Object.entries(project)) {
    const placeholder = placeholderName(value)
    if (placeholder === undefined) {
      literal[name] = value
    } else {
      required.push(placeholder)
    }
  }
  const known = new Set(SETTINGS.map((setting) => setting.name))
  const optional = SETTINGS.filter(
    (setting) =>
      !setting.requiredInProduction &&
      !(setting.name in literal) &&
      !required.includes(setting.name),
  ).map((setting) => setting.name)
  const carried = [...required, ...optional.filter(isSet)]

  // What the functions will read: the carried settings and project.yml's literals.
  const deployed: Record<string, string | undefined> = { ...literal }
  for (const name of carried) {
    deployed[name] = env[name]
  }
  const problems = new Set<string>()
  try {
    loadConfig(deployed)
  } catch (err) {
    if (!(err instanceof ConfigError)) {
      throw err
    }
    for (const name of err.variables) {
      problems.add(name)
    }
  }
  for (const name of required) {
    if (!isSet(name)) {
      problems.add(name)
    }
  }
  const unknown = required.filter((name) => !known.has(name))
  // Placeholders sit inside double quotes: a quote ends the value, a backslash starts an escape.
  const quoted = carried.filter((name) => /"|\\(?!n)/.test(env[name] ?? ''))
  if (problems.size > 0 || unknown.length > 0 || quoted.length > 0) {
    const parts = [
      problems.size > 0 && `Missing or invalid settings: ${[...problems].join(', ')}`,
      unknown.length > 0 &&
        `project.yml asks for settings the functions do not read: ${unknown.join(', ')}`,
      quoted.length > 0 &&
        `Settings the deployer cannot carry (a double quote, or a backslash other than \\n, in the value): ${quoted.join(', ')}`,
    ]
    throw new ConfigError([...problems, ...unknown, ...quoted], parts.filter(Boolean).join('; '))
  }
  return {
    literal,
    required,
    optional: optional.filter(isSet),
    unset: optional.filter((name) => !isSet(name)),
    overridden: Object.keys(literal).filter(
      (name) => isSet(name) && env[name]?.trim() !== literal[name],
    ),
  }
}

/**
 * The settings whose value the deployer read differently from the operator's (project.yml's
 * double quotes turn a backslash sequence into another character), and any it did not carry.
 * A PEM's literal `\n` becoming a line break is the documented form, not a difference.
 */
export function differencesFromDeployer(
  deployer: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  environment: DeployEnvironment,
): string[] {
  const expected: Array<[string, string]> = [
    ...Object.entries(environment.literal),
    ...[...environment.required, ...environment.optional].map((name): [string, string] => [
      name,
      env[name] ?? '',
    ]),
  ]
  const differing = expected
    .filter(([name, value]) => {
      const read = deployer[name]
      return read !== value && read !== value.replaceAll('\\n', '\n')
    })
    .map(([name]) => name)
  const extra = Object.keys(deployer).filter((name) => !expected.some(([known]) => known === name))
  return [...differing, ...extra]
}
