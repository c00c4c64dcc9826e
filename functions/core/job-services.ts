import { loadConfig } from './config.ts'
import { runtimeOf } from './functions-api.ts'
import { createServices, type Services } from './services.ts'
import { createUpstreams } from './upstream-clients.ts'

/**
 * The services of a function that runs or starts jobs (the backfill routes, `jobs/worker`): the
 * upstream clients, and the runtime's Functions API host and namespace read at each kick. Entries
 * import this at their first invocation (docs/ARCHITECTURE.md, "Cold start").
 */
export function jobServices(env: NodeJS.ProcessEnv): Services {
  return createServices(
    loadConfig(env),
    {},
    { upstreams: createUpstreams, runtime: () => runtimeOf(env) },
  )
}
