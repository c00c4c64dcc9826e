// The OpenAPI 3.1 document of every web function, built from the schemas the functions validate
// with (requests) and openapi/answers.ts (answers). `npm run openapi` writes it to openapi.json,
// which v1/openapi serves; openapi/document.test.ts fails when the two differ.
import type { JsonSchema } from '@valibot/to-json-schema'
import { ConfirmDeletions } from '#pipelines/backfill/deletion-brake.ts'
import {
  DaysBack,
  MAX_DAYS_BACK,
  MAX_PROJECTS,
  ProjectKey,
  Projects,
} from '#pipelines/backfill/inputs.ts'
import { BackfillJiraInput } from '#pipelines/jira/inputs.ts'
import { tempoBackfillInput } from '#pipelines/tempo/inputs.ts'
import { RefreshBody, SignInBody } from '../functions/v1/login/handler.ts'
import packageJson from '../package.json' with { type: 'json' }
import * as answers from './answers.ts'
import { componentSchemas, type HandWritten, ref } from './convert.ts'
import { backfillPaths, loginPaths, otherPaths, TEMPO_RULES } from './paths.ts'
import { ERRORS, HEADERS } from './responses.ts'

/** The document's version of the API: package.json's. */
export const API_VERSION = packageJson.version

type Json = Record<string, unknown>

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
  ConfirmDeletions: {
    schema: ConfirmDeletions,
    json: {
      type: 'boolean',
      default: false,
      description:
        'Let deletions through that the deletion brake holds back (more than 20% of a project’s stored records in one run).',
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
        'Sign-in, and Jira and Tempo backfills into Pinecone, on DigitalOcean Functions. Every answer carries `X-Request-Id`; every error is `{"error": {"code", "message", "requestId", "details"?}}` with a code from a closed list. Limits, counted before the body is read: per client address (IPv6 by /64) 200 requests an hour and 1000 a day; a request whose bearer token, admin key or monitor token verifies counts against its principal instead, 3600 an hour and 40,000 a day. A plain liveness GET is exempt.',
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
        monitorToken: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Monitor-Token',
          description: "An uptime monitor's token: the deep health checks, without their details.",
        },
      },
      responses: ERRORS,
      headers: HEADERS,
    },
  }
}
