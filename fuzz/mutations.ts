// Hostile bends of a valid request: wrong types, boundaries, unknown fields, broken bodies and
// encodings, odd methods, paths, query strings and headers, bad credentials.
import fc from 'fast-check'
import {
  BAD_CREDENTIAL_KINDS,
  brokenBody,
  ODD_CONTENT_TYPES,
  ODD_HEADERS,
} from './hostile-values.ts'
import type { Components, Operation } from './operations.ts'
import type { BodyPlan, Plan } from './plans.ts'
import { boundaryValue, unknownField, wrongType } from './schema-values.ts'

/** One named bend of a plan. */
export type Mutation = { name: string; apply: (plan: Plan) => Plan }

const named = (name: string, arbitrary: fc.Arbitrary<(plan: Plan) => Plan>) =>
  arbitrary.map((apply): Mutation => ({ name, apply }))

function jsonObjectOf(body: BodyPlan): Record<string, unknown> {
  return body.kind === 'json' &&
    body.value &&
    typeof body.value === 'object' &&
    !Array.isArray(body.value)
    ? { ...(body.value as Record<string, unknown>) }
    : {}
}

// A value as a query string carries it: lists comma-joined, objects as JSON (some have no toString).
function queryValue(value: unknown): string {
  if (Array.isArray(value)) {
    return value.map(queryValue).join(',')
  }
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** Every bend that applies to `operation`. */
export function mutations(operation: Operation, schemas: Components): fc.Arbitrary<Mutation>[] {
  const queryParams = operation.parameters.filter((p) => p.in === 'query')
  const bodyFields = Object.keys(
    (operation.body && (schemas[operation.body.$ref?.split('/').pop() ?? '']?.properties ?? {})) ??
      {},
  )
  const fields = [
    ...new Set([...queryParams.map((p) => p.name), ...bodyFields, 'days', 'credential']),
  ]
  const list: fc.Arbitrary<Mutation>[] = [
    named(
      'bad credentials',
      fc
        .constantFrom(...BAD_CREDENTIAL_KINDS)
        .map((credential) => (plan: Plan) => ({ ...plan, credential })),
    ),
    named(
      'unknown field in the body',
      fc.tuple(unknownField, wrongType).map(([name, value]) => (plan: Plan) => {
        const object = jsonObjectOf(plan.body)
        Object.defineProperty(object, name, {
          value,
          enumerable: true,
          configurable: true,
          writable: true,
        })
        return { ...plan, body: { kind: 'json', value: object } }
      }),
    ),
    named(
      'unknown field in the query',
      fc.tuple(unknownField, fc.string({ maxLength: 10 })).map(([name, value]) => (plan: Plan) => ({
        ...plan,
        query: [...plan.query, [name, value]],
      })),
    ),
    named(
      'wrong type in the body',
      fc.tuple(fc.constantFrom(...fields), wrongType).map(([name, value]) => (plan: Plan) => ({
        ...plan,
        body: { kind: 'json', value: { ...jsonObjectOf(plan.body), [name]: value } },
      })),
    ),
    named(
      'not an object',
      wrongType.map((value) => (plan: Plan) => ({ ...plan, body: { kind: 'json', value } })),
    ),
    named(
      'broken JSON or encoding',
      brokenBody.map((raw) => (plan: Plan) => ({ ...plan, body: { kind: 'raw', bytes: raw } })),
    ),
    named(
      'deep JSON',
      fc
        .tuple(fc.integer({ min: 1000, max: 200_000 }), fc.constantFrom(['[', ']'], ['{"a":', '}']))
        .map(([depth, [open = '[', close = ']']]) => (plan: Plan) => ({
          ...plan,
          body: { kind: 'deep', depth, open, close },
        })),
    ),
    named(
      'wrong content type',
      fc.constantFrom(...ODD_CONTENT_TYPES).map((contentType) => (plan: Plan) => ({
        ...plan,
        contentType,
        body: plan.body.kind === 'none' ? { kind: 'json', value: {} } : plan.body,
      })),
    ),
    named(
      'odd method',
      fc
        .constantFrom(
          'PUT',
          'PATCH',
          'HEAD',
          'OPTIONS',
          'TRACE',
          'PROPFIND',
          'get',
          'post',
          'DELETE',
          'POST',
          'GET',
        )
        .map((method) => (plan: Plan) => ({ ...plan, method })),
    ),
    named(
      'odd path',
      fc
        .oneof(
          fc.constantFrom(
            '/x',
            '/../login',
            '//',
            '/%2e%2e',
            '/%2F',
            '/refresh/x',
            '/00000000-0000-0000-0000-000000000000/resume/x',
            '/00000000-0000-0000-0000-000000000000/RESUME',
            '/not-a-uuid',
            '/not-a-uuid/resume',
            `/${'a'.repeat(2000)}`,
            '/%00',
            '/%ZZ',
            '/\u00e9',
          ),
          fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
        )
        .map((path) => (plan: Plan) => ({ ...plan, path })),
    ),
    named(
      'malformed job id',
      fc
        .constantFrom(
          'x',
          '',
          '00000000-0000-0000-0000-00000000000',
          '00000000-0000-0000-0000-0000000000000',
          'g0000000-0000-0000-0000-000000000000',
          "1' or '1'='1",
          '%',
          '{jobId}',
          '00000000000000000000000000000000',
        )
        .map((text) => (plan: Plan) => ({ ...plan, jobId: { kind: 'literal', text } })),
    ),
    named(
      'odd query string',
      fc
        .oneof(
          fc.constantFrom(
            '%',
            '%ZZ',
            'days=1&days=2',
            'days=',
            '=x',
            '&&&',
            '__proto__=1',
            'constructor=1',
            'deep=1&deep=0',
            'limit=1e2',
            'waitSeconds=05',
            'waitSeconds=21',
            'waitSeconds=-1',
            'projects=%00',
            'projects=,,,',
            'days=%F0%9F%92%A9',
            `projects=${'A,'.repeat(500)}`,
            `x=${'y'.repeat(10_000)}`,
          ),
          fc.string({ maxLength: 40 }).map((text) => encodeURI(text).replaceAll('#', '%23')),
        )
        .map((rawQuery) => (plan: Plan) => ({ ...plan, rawQuery })),
    ),
    named(
      'odd headers',
      fc.constantFrom(...ODD_HEADERS).map((headers) => (plan: Plan) => ({
        ...plan,
        headers: { ...plan.headers, ...headers },
      })),
    ),
    named(
      'huge body',
      fc.constantFrom(1024 * 1024 + 1, 2 * 1024 * 1024).map((size) => (plan: Plan) => ({
        ...plan,
        body: { kind: 'huge', bytes: size },
      })),
    ),
    named(
      'base64 oddity',
      fc
        .constantFrom(
          'base64-invalid',
          'base64-padding',
          'base64-whitespace',
          'base64-flag-text',
          'base64-of-binary',
        )
        .map((eventOddity) => (plan: Plan) => ({
          ...plan,
          eventOddity,
          contentType: 'application/octet-stream',
          body: plan.body.kind === 'none' ? { kind: 'json', value: {} } : plan.body,
        })),
    ),
    named(
      'odd event',
      fc
        .constantFrom(
          'no-http',
          'headers-not-object',
          'method-number',
          'body-object',
          'query-number',
          'null-event',
        )
        .map((eventOddity) => (plan: Plan) => ({ ...plan, eventOddity })),
    ),
  ]
  for (const param of queryParams) {
    list.push(
      named(
        `boundary ${param.name}`,
        boundaryValue(param.schema, schemas).map((value) => (plan: Plan) => ({
          ...plan,
          query: [
            ...plan.query.filter(([name]) => name !== param.name),
            [param.name, queryValue(value)],
          ],
        })),
      ),
    )
  }
  for (const name of bodyFields) {
    const property = schemas[operation.body?.$ref?.split('/').pop() ?? '']?.properties?.[name] ?? {}
    list.push(
      named(
        `boundary ${name} in the body`,
        boundaryValue(property, schemas).map((value) => (plan: Plan) => ({
          ...plan,
          body: { kind: 'json', value: { ...jsonObjectOf(plan.body), [name]: value } },
        })),
      ),
    )
  }
  return list
}
