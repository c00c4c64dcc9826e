// The requests the fuzzer sends, generated with fast-check from the OpenAPI operations: a valid
// request for an operation, optionally bent by hostile mutations (fuzz/mutations.ts). A plan names
// credentials and job ids by kind; fuzz/wire.ts turns it into bytes with the world's real ones.
import fc from 'fast-check'
import { mutations } from './mutations.ts'
import { type Components, type Operation, resolve } from './operations.ts'
import { validValue, withinRules } from './schema-values.ts'

/** Credentials a request carries, by kind; the world holds the real values. */
export type CredentialKind =
  | 'none'
  | 'admin-token'
  | 'admin-key'
  | 'member-token'
  | 'pending-token'
  | 'monitor-token'
  | 'expired-token'
  | 'forged-token'
  | 'wrong-alg-token'
  | 'wrong-key'
  | 'garbage-bearer'
  | 'admin-key-beside-forged-token'

/** Google ID tokens a sign-in body carries, by kind. */
export type GoogleKind = 'member' | 'admin' | 'pending' | 'disabled' | 'new-person' | 'bad'

/** What body a request sends (before the world's credentials are put in). */
export type BodyPlan =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'deep'; depth: number; open: string; close: string }
  | { kind: 'huge'; bytes: number }

/** One request to send, with the world's credentials and job ids still named by kind. */
export type Plan = {
  /** the operation it was generated from (`POST /v1/backfill-jira`) */
  operation: string
  fn: string
  method: string
  /** the sub-path; `{jobId}` is replaced by `jobId` */
  path: string
  jobId: { kind: 'known'; pick: number } | { kind: 'literal'; text: string }
  /** query pairs, encoded when sent, unless `rawQuery` is set */
  query: Array<[string, string]>
  rawQuery?: string
  headers: Record<string, string>
  /** `undefined`: no content-type header; 'default': JSON when there is a body */
  contentType: string | undefined
  body: BodyPlan
  credential: CredentialKind
  pick: number
  /** for a sign-in body: the Google credential put in place of `GOOGLE_CREDENTIAL` */
  google?: GoogleKind
  /** in-process only: the platform's event bent in a way HTTP cannot carry */
  eventOddity?: string
  /** true once a mutation bent the request */
  hostile: boolean
  mutations: string[]
}

/** The placeholder of a sign-in body's credential. */
export const GOOGLE_CREDENTIAL = '\u0000google-credential\u0000'

// Query values as the document's form style writes them: arrays comma-joined.
function queryText(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : String(value)
}

function credentialsFor(operation: Operation): fc.Arbitrary<CredentialKind> {
  if (operation.adminOnly) {
    return fc.constantFrom('admin-token', 'admin-key')
  }
  if (operation.anonymous && operation.fn === 'health') {
    return fc.constantFrom('none', 'monitor-token', 'admin-key', 'admin-token', 'member-token')
  }
  if (operation.anonymous) {
    return fc.constant('none')
  }
  return fc.constantFrom('member-token', 'admin-token', 'pending-token')
}

// A start reads its input from the query and the body merged (the body wins field by field), so a
// valid request puts it in one of them.
function inOnePlace(query: Array<[string, string]>, body: BodyPlan) {
  const bodyHasFields =
    body.kind === 'json' &&
    body.value !== null &&
    typeof body.value === 'object' &&
    Object.keys(body.value).length > 0
  return bodyHasFields ? { query: [] as Array<[string, string]>, body } : { query, body }
}

/** A request the document describes as valid for `operation` (it may still meet a 404 or 409). */
export function validPlan(operation: Operation, schemas: Components): fc.Arbitrary<Plan> {
  const queryParams = operation.parameters.filter((p) => p.in === 'query')
  // A start's input is the query and the body merged: the body's object rules hold for the query too.
  const rules = operation.body ? resolve(operation.body, schemas) : {}
  const query = fc
    .tuple(...queryParams.map((p) => fc.option(validValue(p.schema, schemas), { nil: undefined })))
    .map((values) => {
      const object: Record<string, unknown> = {}
      values.forEach((value, n) => {
        const param = queryParams[n]
        if (value !== undefined && param) {
          object[param.name] = value
        }
      })
      return Object.entries(withinRules(rules, object)).map(([name, value]): [string, string] => [
        name,
        queryText(value),
      ])
    })
  const isSignIn =
    operation.fn === 'login' && operation.method === 'POST' && operation.subPath === ''
  const body: fc.Arbitrary<BodyPlan> = isSignIn
    ? fc.option(fc.boolean(), { nil: undefined }).map((rememberMe) => ({
        kind: 'json',
        value: { credential: GOOGLE_CREDENTIAL, ...(rememberMe !== undefined && { rememberMe }) },
      }))
    : operation.body
      ? fc
          .option(validValue(operation.body, schemas), { nil: undefined })
          .map(
            (value): BodyPlan => (value === undefined ? { kind: 'none' } : { kind: 'json', value }),
          )
      : fc.constant({ kind: 'none' })
  const jobId = fc.oneof(
    { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: 'known' as const, pick })) },
    { weight: 1, arbitrary: fc.uuid().map((text) => ({ kind: 'literal' as const, text })) },
  )
  const google = fc.constantFrom<GoogleKind>(
    'member',
    'admin',
    'pending',
    'disabled',
    'new-person',
    'bad',
  )
  return fc
    .record({
      query,
      body,
      jobId,
      credential: credentialsFor(operation),
      pick: fc.nat(),
      google,
      requestId: fc.option(fc.stringMatching(/^[A-Za-z0-9._:-]{8,40}$/), { nil: undefined }),
      origin: fc.option(fc.constantFrom('https://pm.example.com', 'http://localhost:5173'), {
        nil: undefined,
      }),
    })
    .map(
      (parts): Plan => ({
        ...inOnePlace(parts.query, parts.body),
        operation: operation.name,
        fn: operation.fn,
        method: operation.method,
        path: operation.subPath,
        jobId: parts.jobId,
        headers: {
          accept: 'application/json',
          ...(parts.requestId !== undefined && { 'x-request-id': parts.requestId }),
          ...(parts.origin !== undefined && { origin: parts.origin }),
        },
        contentType: 'default',
        credential: parts.credential,
        pick: parts.pick,
        ...(isSignIn && { google: parts.google }),
        hostile: false,
        mutations: [],
      }),
    )
}

/** A valid request bent by one to three hostile mutations. */
export function hostilePlan(operation: Operation, schemas: Components): fc.Arbitrary<Plan> {
  const bends = fc.array(fc.oneof(...mutations(operation, schemas)), { minLength: 1, maxLength: 3 })
  return fc.tuple(validPlan(operation, schemas), bends).map(([plan, chosen]) => {
    // A hostile request never signs a new person in: that refusal (ACCESS_PENDING) records them.
    let bent: Plan = {
      ...plan,
      hostile: true,
      ...(plan.google === 'new-person' && { google: 'bad' }),
    }
    for (const mutation of chosen) {
      bent = { ...mutation.apply(bent), mutations: [...bent.mutations, mutation.name] }
    }
    return bent
  })
}

/** Plans over every operation, valid and hostile in the given share. */
export function anyPlan(
  operations: readonly Operation[],
  schemas: Components,
  hostile: boolean,
): fc.Arbitrary<Plan> {
  const make = hostile ? hostilePlan : validPlan
  return fc.oneof(...operations.map((operation) => make(operation, schemas)))
}
