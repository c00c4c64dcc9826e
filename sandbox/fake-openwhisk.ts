// A fake DigitalOcean Functions API host: the OpenWhisk controller REST calls a deployer makes
// (runtimes, namespaces, packages, actions) and DigitalOcean's trigger API. The deployer reaches
// the trigger API at a fixed https://api.digitalocean.com; pointed at this fake as its HTTPS
// proxy, it sends those requests here in plain HTTP, with the absolute URL as the target.
import { randomUUID } from 'node:crypto'
import {
  type FakeResponse,
  type FakeServer,
  type RecordedRequest,
  startFakeServer,
} from './fakes/server.ts'

type KeyValue = { key: string; value: unknown }

/** A package as the controller stores it. */
export type StoredPackage = {
  namespace: string
  name: string
  version: string
  publish: boolean
  annotations: KeyValue[]
  parameters: KeyValue[]
}

/** An action as the controller stores it, code included. */
export type StoredAction = {
  namespace: string
  name: string
  version: string
  exec: { kind: string; code: string; binary: boolean; main?: string }
  annotations: KeyValue[]
  parameters: KeyValue[]
  limits: { timeout: number; memory: number; logs: number; concurrency: number }
}

/** A scheduled trigger as DigitalOcean's API stores it. */
export type StoredTrigger = {
  name: string
  namespace: string
  function: string
  is_enabled: boolean
  cron: string
  body: unknown
}

export type FakeOpenWhiskOptions = {
  namespace?: string
  /** OpenWhisk key `uuid:secret`, sent as HTTP basic auth. */
  apiKey?: string
  /** DigitalOcean API token for the trigger API (Bearer). */
  token?: string
  /** Functions (`package/function`) present from the start without code, for callers that only invoke. */
  functions?: string[]
}

/** One invocation the fake accepted. */
export type Invocation = { name: string; activationId: string; params: unknown }

export type FakeOpenWhisk = FakeServer & {
  namespace: string
  apiKey: string
  token: string
  packages: Map<string, StoredPackage>
  /** By `package/function`. */
  actions: Map<string, StoredAction>
  /** By trigger name. */
  triggers: Map<string, StoredTrigger>
  /** Non-blocking invocations accepted, in order. */
  invocations: Invocation[]
}

// The Node runtimes DigitalOcean lists (README, "Deploying and operating"); its default moves.
const RUNTIMES = {
  nodejs: [
    { kind: 'nodejs:14', default: false, deprecated: true },
    { kind: 'nodejs:18', default: true, deprecated: false },
    { kind: 'nodejs:22', default: false, deprecated: false },
    { kind: 'nodejs:24', default: false, deprecated: false },
  ],
}
const KINDS = new Set(RUNTIMES.nodejs.map((runtime) => runtime.kind))
// DigitalOcean's limits: 100 ms to 15 minutes, 128 MB to 1 GB, three scheduled triggers.
const TIMEOUT_MS = { min: 100, max: 900_000 }
const MEMORY_MB = { min: 128, max: 1024 }
const MAX_TRIGGERS = 3
const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/

/** OpenWhisk's error body: a message and the transaction id. */
function whiskError(status: number, error: string): FakeResponse {
  return { status, body: { error, code: randomUUID().replaceAll('-', '') } }
}

/** DigitalOcean's API error body. */
function doError(status: number, id: string, message: string): FakeResponse {
  return { status, body: { id, message, request_id: randomUUID() } }
}

function bumped(version: string | undefined): string {
  if (!version) {
    return '0.0.1'
  }
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number)
  return `${major}.${minor}.${patch + 1}`
}

function list(value: unknown): KeyValue[] {
  return Array.isArray(value)
    ? value.filter((item): item is KeyValue => typeof item?.key === 'string')
    : []
}

/**
 * Starts the fake API host. Deploy with `apihost: fake.url` and `api_key: fake.apiKey`; for
 * triggers, also `DO_API_KEY = fake.token` and `HTTPS_PROXY = fake.url` in the deployer's process.
 * @example const fake = await startFakeOpenWhisk({ namespace: 'fn-test' })
 */
export async function startFakeOpenWhisk(
  options: FakeOpenWhiskOptions = {},
): Promise<FakeOpenWhisk> {
  const namespace = options.namespace ?? 'fn-00000000-0000-4000-8000-000000000000'
  const apiKey = options.apiKey ?? `${randomUUID()}:${randomUUID().replaceAll('-', '')}`
  const token = options.token ?? `dop_v1_${randomUUID().replaceAll('-', '')}`
  const packages = new Map<string, StoredPackage>()
  const actions = new Map<string, StoredAction>()
  const triggers = new Map<string, StoredTrigger>()
  const invocations: Invocation[] = []
  for (const name of options.functions ?? []) {
    const [pkg, fn = name] = name.split('/')
    actions.set(name, {
      namespace: `${namespace}/${pkg}`,
      name: fn,
      version: '0.0.1',
      exec: { kind: 'nodejs:22', code: '', binary: false },
      annotations: [],
      parameters: [],
      limits: { timeout: 60_000, memory: 256, logs: 16, concurrency: 1 },
    })
  }

  function controller(req: RecordedRequest): FakeResponse {
    if (req.method === 'GET' && req.path === '/api/v1') {
      return {
        status: 200,
        body: { api_paths: ['/api/v1'], description: 'OpenWhisk', runtimes: RUNTIMES },
      }
    }
    if (req.headers.authorization !== `Basic ${Buffer.from(apiKey).toString('base64')}`) {
      return whiskError(401, 'The supplied authentication is invalid.')
    }
    if (req.method === 'GET' && req.path === '/api/v1/namespaces') {
      return { status: 200, body: [namespace] }
    }
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/(packages|actions)\/(.+)$/.exec(req.path)
    if (!match) {
      return whiskError(404, 'The requested resource does not exist.')
    }
    const [, ns = '', collection, rawName = ''] = match
    if (ns !== '_' && decodeURIComponent(ns) !== namespace) {
      return whiskError(403, `The supplied authentication is not authorized to access '${ns}'.`)
    }
    const name = decodeURIComponent(rawName)
    return collection === 'packages' ? packageRoute(req, name) : actionRoute(req, name)
  }

  function packageRoute(req: RecordedRequest, name: string): FakeResponse {
    const existing = packages.get(name)
    if (req.method === 'GET') {
      return existing
        ? { status: 200, body: existing }
        : whiskError(404, 'The requested resource does not exist.')
    }
    if (req.method === 'DELETE') {
      packages.delete(name)
      return existing
        ? { status: 200, body: existing }
        : whiskError(404, 'The requested resource does not exist.')
    }
    if (req.method !== 'PUT') {
      return whiskError(405, 'Method not allowed.')
    }
    if (existing && req.query.get('overwrite') !== 'true') {
      return whiskError(409, 'resource already exists')
    }
    const body = (req.body ?? {}) as Record<string, unknown>
    const stored: StoredPackage = {
      namespace,
      name,
      version: bumped(existing?.version),
      publish: body.publish === true,
      annotations: list(body.annotations),
      parameters: list(body.parameters),
    }
    packages.set(name, stored)
    return { status: 200, body: { ...stored, binding: {} } }
  }

  function actionRoute(req: RecordedRequest, name: string): FakeResponse {
    const existing = actions.get(name)
    const [pkg, fn] = name.includes('/') ? name.split('/') : [undefined, name]
    if (req.method === 'GET') {
      if (!existing) {
        return whiskError(404, 'The requested resource does not exist.')
      }
      const withCode = req.query.get('code') !== 'false'
      const { code, ...exec } = existing.exec
      return { status: 200, body: { ...existing, exec: withCode ? { ...exec, code } : exec } }
    }
    if (req.method === 'DELETE') {
      actions.delete(name)
      return existing
        ? { status: 200, body: existing }
        : whiskError(404, 'The requested resource does not exist.')
    }
    if (req.method === 'POST') {
      return invoke(req, name, existing)
    }
    if (req.method !== 'PUT') {
      return whiskError(405, 'Method not allowed.')
    }
    if (existing && req.query.get('overwrite') !== 'true') {
      return whiskError(409, 'resource already exists')
    }
    if (pkg !== undefined && !packages.has(pkg)) {
      return whiskError(404, 'The requested resource does not exist.')
    }
    const body = (req.body ?? {}) as Record<string, unknown>
    const exec = (body.exec ?? {}) as Record<string, unknown>
    const limits = (body.limits ?? {}) as Record<string, unknown>
    const timeout = Number(limits.timeout ?? 60_000)
    const memory = Number(limits.memory ?? 256)
    const problems = [
      !KINDS.has(String(exec.kind)) && `kind '${String(exec.kind)}' is not supported`,
      (typeof exec.code !== 'string' || exec.code === '') && 'exec.code is required',
      !(timeout >= TIMEOUT_MS.min && timeout <= TIMEOUT_MS.max) &&
        `timeout ${timeout} exceeds allowed threshold of ${TIMEOUT_MS.max} milliseconds`,
      !(memory >= MEMORY_MB.min && memory <= MEMORY_MB.max) &&
        `memory ${memory} MB is outside ${MEMORY_MB.min}–${MEMORY_MB.max} MB`,
    ].filter(Boolean)
    if (problems.length > 0) {
      return whiskError(400, `The request content was malformed:\n${problems.join('\n')}`)
    }
    const stored: StoredAction = {
      namespace: pkg === undefined ? namespace : `${namespace}/${pkg}`,
      name: fn ?? name,
      version: bumped(existing?.version),
      exec: {
        kind: String(exec.kind),
        code: String(exec.code),
        binary: exec.binary === true,
        ...(typeof exec.main === 'string' && { main: exec.main }),
      },
      annotations: list(body.annotations),
      parameters: list(body.parameters),
      limits: { timeout, memory, logs: Number(limits.logs ?? 16), concurrency: 1 },
    }
    actions.set(name, stored)
    const { code: _code, ...execWithoutCode } = stored.exec
    return { status: 200, body: { ...stored, exec: execWithoutCode, publish: false } }
  }

  // An invocation: non-blocking only (202 with the activation id, as the platform answers at once);
  // this fake runs no code, so a blocking call is refused.
  function invoke(req: RecordedRequest, name: string, existing: StoredAction | undefined) {
    if (!existing) {
      return whiskError(404, 'The requested resource does not exist.')
    }
    if (req.query.get('blocking') === 'true') {
      return whiskError(400, 'This fake takes non-blocking invocations only.')
    }
    const activationId = randomUUID().replaceAll('-', '')
    invocations.push({ name, activationId, params: req.body ?? {} })
    return { status: 202, body: { activationId } }
  }

  // DigitalOcean's trigger API, at the paths this deployer uses.
  function triggerApi(req: RecordedRequest): FakeResponse {
    if (req.headers.authorization !== `Bearer ${token}`) {
      return doError(401, 'Unauthorized', 'Unable to authenticate you')
    }
    const one = /^\/v2\/functions\/trigger\/([^/]+)\/([^/]+)$/.exec(req.path)
    if (req.method === 'DELETE' && one) {
      const [, ns, name = ''] = one
      const found = triggers.get(decodeURIComponent(name))
      if (decodeURIComponent(ns ?? '') !== namespace || !found) {
        return doError(404, 'not_found', 'The resource you were accessing could not be found.')
      }
      triggers.delete(found.name)
      return { status: 204 }
    }
    const all = /^\/v2\/functions\/triggers\/([^/]+)$/.exec(req.path)
    if (req.method === 'GET' && all) {
      return { status: 200, body: { triggers: [...triggers.values()] } }
    }
    if (req.method === 'POST' && req.path === '/v2/functions/trigger') {
      const body = (req.body ?? {}) as Record<string, unknown>
      const name = String(body.name ?? '')
      const cron = String(body.cron ?? '')
      if (body.namespace !== namespace) {
        return doError(404, 'not_found', 'The namespace could not be found.')
      }
      if (body.trigger_source !== 'SCHEDULED') {
        return doError(422, 'unprocessable_entity', 'trigger_source must be SCHEDULED')
      }
      const fields = cron.split(' ')
      if (fields.length !== 5 || !fields.every((field) => CRON_FIELD.test(field))) {
        return doError(422, 'unprocessable_entity', `invalid cron expression '${cron}'`)
      }
      if (!actions.has(String(body.function))) {
        return doError(422, 'unprocessable_entity', `function '${String(body.function)}' not found`)
      }
      if (triggers.has(name)) {
        return doError(409, 'conflict', `trigger '${name}' already exists`)
      }
      if (triggers.size >= MAX_TRIGGERS) {
        return doError(
          422,
          'unprocessable_entity',
          `a namespace may have at most ${MAX_TRIGGERS} triggers`,
        )
      }
      const stored: StoredTrigger = {
        name,
        namespace,
        function: String(body.function),
        is_enabled: body.is_enabled !== false,
        cron,
        body: body.body,
      }
      triggers.set(name, stored)
      return { status: 200, body: { trigger: stored } }
    }
    return doError(404, 'not_found', 'The resource you were accessing could not be found.')
  }

  const server = await startFakeServer((req) =>
    req.headers.host === 'api.digitalocean.com' ? triggerApi(req) : controller(req),
  )
  return { ...server, namespace, apiKey, token, packages, actions, triggers, invocations }
}
