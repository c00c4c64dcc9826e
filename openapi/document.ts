// The OpenAPI 3.1 document of every web function, built from the schemas the functions validate
// with (requests) and openapi/answers.ts (answers). `npm run openapi` writes it to openapi.json,
// which v1/openapi serves; openapi/document.test.ts fails when the two differ.
import type { JsonSchema } from '@valibot/to-json-schema'
import type * as v from 'valibot'
import { LIMITS } from '#core/rate-limit/rules.ts'
import {
  DaysBack,
  MAX_DAYS_BACK,
  MAX_PROJECTS,
  ProjectKey,
  Projects,
} from '#pipelines/backfill/inputs.ts'
import { MAX_WAIT_SECONDS, POLL_INTERVAL_MS } from '#pipelines/backfill/long-poll.ts'
import { JobQuery, ListQuery } from '#pipelines/backfill/routes.ts'
import { BackfillJiraInput, JIRA_START_LIMIT } from '#pipelines/jira/inputs.ts'
import {
  DEFAULT_DAYS,
  MAX_SPAN_DAYS,
  TEMPO_START_LIMIT,
  tempoBackfillInput,
} from '#pipelines/tempo/inputs.ts'
import { RefreshBody, SignInBody } from '../functions/v1/login/handler.ts'
import packageJson from '../package.json' with { type: 'json' }
import * as answers from './answers.ts'
import { componentSchemas, type HandWritten, objectEntries, ref } from './convert.ts'

/** The document's version of the API: package.json's. */
export const API_VERSION = packageJson.version

type Json = Record<string, unknown>

// Rules of the Tempo start that JSON Schema cannot say; stated in its description.
const TEMPO_RULES = `Either \`days\` (1–${MAX_DAYS_BACK}, default ${DEFAULT_DAYS}: today − days … today) or both \`from\` and \`to\` (real dates, not after today in UTC, \`to\` ≥ \`from\`, at most ${MAX_SPAN_DAYS} days apart).`

const HAND = {
  DaysBack: {
    schema: DaysBack,
    json: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_DAYS_BACK,
      description: `Days back from now, 1–${MAX_DAYS_BACK}.`,
    },
  },
  Projects: {
    schema: Projects,
    json: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_PROJECTS,
      items: ref('ProjectKey'),
      description:
        'Jira project keys (repeats are dropped). Default: the active projects, else every project Jira shows.',
    },
  },
} satisfies Record<string, HandWritten>

/** Every component schema: requests (as validated), answers, and the hand-written ones. */
function schemas(): Record<string, object> {
  const converted: Record<string, object> = {
    ...componentSchemas(
      {
        SignInBody,
        RefreshBody,
        ProjectKey,
        JiraBackfillStart: BackfillJiraInput,
        // The shape does not depend on today; the range rules that do are in TEMPO_RULES.
        TempoBackfillStart: tempoBackfillInput(() => '2026-01-01'),
        JobStatus: answers.JobStatus,
        JobProgress: answers.JobProgress,
        Job: answers.Job,
        JobAccepted: answers.JobAccepted,
        JobShown: answers.JobShown,
        JobList: answers.JobList,
        Role: answers.Role,
        User: answers.User,
        Session: answers.Session,
        Me: answers.Me,
        Error: answers.ErrorEnvelope,
        Health: answers.Health,
        CheckReport: answers.CheckReportSchema,
        DeepHealth: answers.DeepHealth,
      },
      HAND,
    ),
  }
  const day = { $ref: '#/components/schemas/Day' }
  const tempo = (converted.TempoBackfillStart ?? {}) as JsonSchema
  converted.TempoBackfillStart = {
    ...tempo,
    properties: { ...tempo.properties, from: day, to: day },
    description: TEMPO_RULES,
    dependentRequired: { from: ['to'], to: ['from'] },
    not: { anyOf: [{ required: ['days', 'from'] }, { required: ['days', 'to'] }] },
  }
  converted.Day = {
    type: 'string',
    format: 'date',
    pattern: '^\\d{4}-\\d{2}-\\d{2}$',
    description: 'YYYY-MM-DD, zero-padded, a real calendar date (UTC).',
  }
  return converted
}

// ---- parameters, headers and answers ----------------------------------------------------------

// Query values are text; a parameter's schema describes the value they encode (`days=30` is 30).
const QUERY_SCHEMAS: Record<string, Json> = {
  days: ref('DaysBack'),
  projects: ref('Projects'),
  from: ref('Day'),
  to: ref('Day'),
  limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
  waitSeconds: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SECONDS },
  since: { type: 'string', pattern: '^[0-9a-f]{16}$' },
}

const QUERY_TEXT: Record<string, string> = {
  days: `Days back, 1–${MAX_DAYS_BACK}.`,
  projects: 'Jira project keys as a comma list: `projects=OPS,WEB`.',
  from: 'First day, inclusive (with `to`).',
  to: 'Last day, inclusive (with `from`).',
  limit: 'How many of the most recent jobs, 1–100.',
  waitSeconds: `Wait up to this many seconds (0–${MAX_WAIT_SECONDS}) for the job to change before answering; the job is read every ${POLL_INTERVAL_MS} ms and a finished job is answered at once.`,
  since:
    'The `version` of your last answer: wait for a job that differs from it (default: the job as it is when the request arrives).',
}

/** The query parameters of a strict object schema, in its order; a field without a schema here fails the build. */
function queryOf(schema: v.GenericSchema): Json[] {
  return Object.keys(objectEntries(schema)).map((name) => {
    const described = QUERY_SCHEMAS[name]
    if (!described) {
      throw new Error(`The query field "${name}" has no parameter schema in openapi/document.ts.`)
    }
    return {
      name,
      in: 'query',
      required: false,
      description: QUERY_TEXT[name],
      schema: described,
      ...(name === 'projects' && { style: 'form', explode: false }),
    }
  })
}

const header = (name: string) => ({ $ref: `#/components/headers/${name}` })
const REQUEST_ID = { 'X-Request-Id': header('X-Request-Id') }
const LIMIT_HEADERS = {
  'RateLimit-Limit': header('RateLimit-Limit'),
  'RateLimit-Remaining': header('RateLimit-Remaining'),
  'RateLimit-Reset': header('RateLimit-Reset'),
}
const json = (name: string) => ({ 'application/json': { schema: ref(name) } })

const CODES_BY_STATUS = Object.entries(answers.ERROR_STATUS).reduce<Record<number, string[]>>(
  (byStatus, [code, status]) => {
    byStatus[status] = [...(byStatus[status] ?? []), code]
    return byStatus
  },
  {},
)

/** An error answer (a component): the envelope, the codes this status carries, its headers. */
function failure(status: number, when: string, headers: Json = {}): Json {
  const codes = (CODES_BY_STATUS[status] ?? []).map((code) => `\`${code}\``).join(', ')
  return {
    description: `${when} (${codes}).`,
    headers: { ...REQUEST_ID, ...headers },
    content: json('Error'),
  }
}

const RETRY = { 'Retry-After': header('Retry-After') }
const ERRORS = {
  400: failure(400, 'The request is not valid: `details.issues` lists each field'),
  401: failure(401, 'No valid credentials', { 'WWW-Authenticate': header('WWW-Authenticate') }),
  403: failure(403, 'Signed in, but not allowed'),
  404: failure(404, 'No such job (or one of another kind)'),
  409: failure(409, '`details.job` is the job in the way'),
  413: failure(413, 'The body exceeds 1 MB'),
  415: failure(415, 'The body is not JSON'),
  429: failure(429, 'Over a rate limit: wait `Retry-After` seconds', {
    ...RETRY,
    ...LIMIT_HEADERS,
  }),
  500: failure(500, 'Something failed on our side: quote the request id'),
  502: failure(502, 'An upstream refused the work'),
  503: failure(503, 'A dependency is unavailable; try again after `Retry-After` when sent', RETRY),
}
type Status = keyof typeof ERRORS
const errors = (...statuses: Status[]) =>
  Object.fromEntries(
    statuses.map((status) => [String(status), { $ref: `#/components/responses/${status}` }]),
  )

/** A success answer with the per-client limit's headers. */
function success(description: string, schema?: string, headers: Json = {}): Json {
  return {
    description,
    headers: { ...REQUEST_ID, ...LIMIT_HEADERS, ...headers },
    ...(schema && { content: json(schema) }),
  }
}

const BEARER = [{ bearerAuth: [] }]
const ADMIN = [{ bearerAuth: [] }, { adminKey: [] }]
const BODY_ERRORS = [400, 413, 415] as const

// ---- paths ------------------------------------------------------------------------------------

function loginPaths(): Json {
  const limit = `${LIMITS.login.limit} a minute per client address, shared with refresh`
  return {
    '/v1/login': {
      post: {
        operationId: 'signIn',
        tags: ['sessions'],
        summary: 'Sign in with a Google ID token',
        description: `Verifies the Google Identity Services credential and answers the app's own token. ${limit}.`,
        security: [],
        requestBody: { required: true, content: json('SignInBody') },
        responses: {
          200: success('Signed in', 'Session'),
          ...errors(...BODY_ERRORS, 401, 403, 429, 500, 503),
        },
      },
      get: {
        operationId: 'getMe',
        tags: ['sessions'],
        summary: 'Who am I',
        security: BEARER,
        responses: { 200: success('The signed-in user', 'Me'), ...errors(401, 403, 429, 500) },
      },
      delete: {
        operationId: 'signOut',
        tags: ['sessions'],
        summary: 'Sign out everywhere',
        description: "Ends every one of the user's sessions (all their tokens stop working).",
        security: BEARER,
        responses: { 204: success('Signed out'), ...errors(401, 403, 429, 500) },
      },
    },
    '/v1/login/refresh': {
      post: {
        operationId: 'refreshSession',
        tags: ['sessions'],
        summary: 'Swap a valid token for a new one',
        description: `A session renews for at most 30 days from its sign-in. ${limit}.`,
        security: BEARER,
        requestBody: { required: false, content: json('RefreshBody') },
        responses: {
          200: success('A new token', 'Session'),
          ...errors(...BODY_ERRORS, 401, 403, 429, 500, 503),
        },
      },
    },
  }
}

function backfillPaths(source: 'jira' | 'tempo'): Json {
  const name = source === 'jira' ? 'Jira' : 'Tempo'
  const op = (verb: string, noun = 'Backfill') => `${verb}${name}${noun}`
  const start = source === 'jira' ? BackfillJiraInput : tempoBackfillInput(() => '2026-01-01')
  const rule = source === 'jira' ? JIRA_START_LIMIT : TEMPO_START_LIMIT
  const base = `/v1/backfill-${source}`
  const jobId = {
    name: 'jobId',
    in: 'path',
    required: true,
    schema: { type: 'string', format: 'uuid' },
  }
  const tags = [`${source} backfills`]
  const accepted = success('Accepted', 'JobAccepted', { Location: header('Location') })
  return {
    [base]: {
      post: {
        operationId: op('start'),
        tags,
        summary: `Start a ${name} backfill`,
        description: `Queues the job (one at a time; ${rule.limit} starts and resumes an hour per principal). Input from the JSON body or the query string; the body wins; an unknown field is a 400 and queues nothing.${source === 'tempo' ? ` ${TEMPO_RULES}` : ''}`,
        security: ADMIN,
        parameters: queryOf(start),
        requestBody: { required: false, content: json(`${name}BackfillStart`) },
        responses: {
          202: accepted,
          ...errors(...BODY_ERRORS, 401, 403, 409, 429, 500, 502, 503),
        },
      },
      get: {
        operationId: op('list', 'Backfills'),
        tags,
        summary: `The most recent ${name} backfills, newest first`,
        security: ADMIN,
        parameters: queryOf(ListQuery),
        responses: { 200: success('Jobs', 'JobList'), ...errors(400, 401, 403, 429, 500) },
      },
    },
    [`${base}/{jobId}`]: {
      parameters: [jobId],
      get: {
        operationId: op('get'),
        tags,
        summary: 'A job and its progress; with `waitSeconds`, once it changes',
        description: `Long poll: with \`waitSeconds\` the answer comes as soon as the job differs from \`since\` (or from the job as it was on arrival), when it has finished, or after \`waitSeconds\`. Follow a job with \`since\` = the last answer's \`version\`, and stop at a final status.`,
        security: ADMIN,
        parameters: queryOf(JobQuery),
        responses: {
          200: success('The job', 'JobShown'),
          ...errors(400, 401, 403, 404, 429, 500),
        },
      },
      delete: {
        operationId: op('cancel'),
        tags,
        summary: 'Cancel (cooperative: running chunks stop at their next page)',
        security: ADMIN,
        responses: { 202: accepted, ...errors(400, 401, 403, 404, 409, 429, 500) },
      },
    },
    [`${base}/{jobId}/resume`]: {
      parameters: [jobId],
      post: {
        operationId: op('resume'),
        tags,
        summary: 'Resume a failed or cancelled job from its cursors',
        security: ADMIN,
        responses: { 202: accepted, ...errors(400, 401, 403, 404, 409, 429, 500, 503) },
      },
    },
  }
}

function otherPaths(): Json {
  return {
    '/v1/health': {
      get: {
        operationId: 'getHealth',
        tags: ['operations'],
        summary: 'Liveness; `?deep=1` checks the dependencies',
        description:
          'Liveness touches nothing and is never rate limited. The deep checks run in parallel, 3 s each; their details reach admins only.',
        security: [{}, ...ADMIN],
        parameters: [
          {
            name: 'deep',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['1', 'true'] },
          },
        ],
        responses: {
          200: {
            description: 'Alive (or every check passed)',
            headers: REQUEST_ID,
            content: {
              'application/json': { schema: { oneOf: [ref('Health'), ref('DeepHealth')] } },
            },
          },
          503: { description: 'A check failed', headers: REQUEST_ID, content: json('DeepHealth') },
          ...errors(429, 500),
        },
      },
    },
    '/v1/openapi': {
      get: {
        operationId: 'getOpenApi',
        tags: ['operations'],
        summary: 'This document',
        security: [],
        responses: {
          200: {
            ...success('The OpenAPI 3.1 document'),
            content: {
              'application/json': {
                schema: { type: 'object', required: ['openapi'], properties: { openapi: {} } },
              },
            },
          },
          ...errors(429, 500),
        },
      },
    },
  }
}

const integerHeader = (description: string) => ({
  description,
  schema: { type: 'integer', minimum: 0 },
})

/**
 * The OpenAPI 3.1 document of every web function.
 * @throws {Error} when a schema cannot be described (see openapi/convert.ts)
 * @example writeFileSync('openapi.json', JSON.stringify(buildOpenApiDocument(), null, 2))
 */
export function buildOpenApiDocument(): Json {
  return {
    openapi: '3.1.1',
    info: {
      title: 'agent-pm functions',
      version: API_VERSION,
      description:
        'Sign-in, and Jira and Tempo backfills into Pinecone, on DigitalOcean Functions. Every answer carries `X-Request-Id`; every error is `{"error": {"code", "message", "requestId", "details"?}}` with a code from a closed list. Limits per client address: 200 requests an hour and 1000 a day (liveness exempt).',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [
      {
        url: 'https://{host}/api/v1/web/{namespace}',
        description: 'DigitalOcean Functions',
        variables: {
          host: {
            default: 'faas-nyc1-00000000.doserverless.co',
            description: 'The API host of the namespace (`doctl serverless status`).',
          },
          namespace: {
            default: 'fn-00000000-0000-0000-0000-000000000000',
            description: "The namespace's id.",
          },
        },
      },
      { url: 'http://127.0.0.1:3000/api/v1/web/local', description: 'npm start' },
    ],
    tags: [
      { name: 'sessions' },
      { name: 'jira backfills' },
      { name: 'tempo backfills' },
      { name: 'operations' },
    ],
    paths: {
      ...loginPaths(),
      ...backfillPaths('jira'),
      ...backfillPaths('tempo'),
      ...otherPaths(),
    },
    components: {
      schemas: schemas(),
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'The token from `POST /v1/login`.',
        },
        adminKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Admin-Key',
          description: 'An admin key (`npm run admin-key`).',
        },
      },
      responses: ERRORS,
      headers: {
        'X-Request-Id': {
          description: 'The id every log line of this request carries (yours, when well formed).',
          schema: { type: 'string' },
        },
        'Retry-After': integerHeader('Seconds to wait before trying again.'),
        'RateLimit-Limit': integerHeader('Requests allowed in the window.'),
        'RateLimit-Remaining': integerHeader('Requests left in the window.'),
        'RateLimit-Reset': integerHeader('Seconds until the window frees a request.'),
        Location: { description: "The job's URL.", schema: { type: 'string' } },
        'WWW-Authenticate': { schema: { type: 'string' } },
      },
    },
  }
}
