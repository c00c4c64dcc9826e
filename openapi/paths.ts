// The paths of the document: every route of every web function, with its parameters (from the
// routes' query schemas), bodies and answers.
import type * as v from 'valibot'
import { LIMITS } from '#core/rate-limit/rules.ts'
import { MAX_DAYS_BACK } from '#pipelines/backfill/inputs.ts'
import { MAX_WAIT_SECONDS, POLL_INTERVAL_MS } from '#pipelines/backfill/long-poll.ts'
import { JobQuery, ListQuery } from '#pipelines/backfill/routes.ts'
import { BackfillJiraInput, JIRA_START_LIMIT } from '#pipelines/jira/inputs.ts'
import {
  DEFAULT_DAYS,
  MAX_SPAN_DAYS,
  TEMPO_START_LIMIT,
  tempoBackfillInput,
} from '#pipelines/tempo/inputs.ts'
import { objectEntries, ref } from './convert.ts'
import {
  ADMIN,
  BEARER,
  BODY_ERRORS,
  errors,
  header,
  json,
  REQUEST_ID,
  success,
} from './responses.ts'

type Json = Record<string, unknown>

/** Rules of the Tempo start that JSON Schema cannot say; stated in its description. */
export const TEMPO_RULES = `Either \`days\` (1–${MAX_DAYS_BACK}, default ${DEFAULT_DAYS}: today − days … today) or both \`from\` and \`to\` (real dates, not after today in UTC, \`to\` ≥ \`from\`, at most ${MAX_SPAN_DAYS} days apart).`

// Query values are text; a parameter's schema describes the value they encode (`days=30` is 30).
const QUERY_SCHEMAS: Record<string, Json> = {
  days: ref('DaysBack'),
  projects: ref('Projects'),
  confirmDeletions: ref('ConfirmDeletions'),
  from: ref('Day'),
  to: ref('Day'),
  limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
  waitSeconds: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SECONDS },
  since: { type: 'string', pattern: '^[0-9a-f]{16}$' },
}

const QUERY_TEXT: Record<string, string> = {
  days: `Days back, 1–${MAX_DAYS_BACK}.`,
  projects: 'Jira project keys as a comma list: `projects=OPS,WEB`.',
  confirmDeletions: '`true` lets deletions the deletion brake held back through.',
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

export function loginPaths(): Json {
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

export function backfillPaths(source: 'jira' | 'tempo'): Json {
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

export function otherPaths(): Json {
  return {
    '/v1/health': {
      get: {
        operationId: 'getHealth',
        tags: ['operations'],
        summary: 'Liveness; `?deep=1` checks the dependencies',
        description:
          'Liveness touches nothing and a plain GET of it is never rate limited. The deep checks run only for an admin or a monitor token (anyone else gets liveness), in parallel, 3 s each; their details reach admins only.',
        security: [{}, ...ADMIN, { monitorToken: [] }],
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
