// The operations of the committed OpenAPI document (openapi.json), as the fuzzer drives them:
// which function and sub-path, which parameters and body, and which credentials they ask for.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A JSON Schema as the document writes it (draft 2020-12, the subset the functions use). */
export type Schema = {
  $ref?: string
  type?: string
  enum?: unknown[]
  const?: unknown
  format?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  minItems?: number
  maxItems?: number
  items?: Schema
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean
  anyOf?: Schema[]
  oneOf?: Schema[]
  dependentRequired?: Record<string, string[]>
  not?: { anyOf?: Array<{ required?: string[] }> }
}

/** One parameter of an operation. */
export type Parameter = { name: string; in: 'query' | 'path'; schema: Schema; explode?: boolean }

/** One route and method of the document. */
export type Operation = {
  /** `POST /v1/login/refresh`: how the report names it */
  name: string
  method: string
  /** the function, e.g. `login` (package v1) */
  fn: string
  /** the path after the function, with `{jobId}` placeholders: '' or '/…' */
  subPath: string
  parameters: Parameter[]
  body: Schema | undefined
  /** whether anonymous callers may use it (`security` lists `{}` or is empty) */
  anonymous: boolean
  /** whether only an admin (bearer token of an admin or `X-Admin-Key`) may use it */
  adminOnly: boolean
}

type RawOperation = {
  parameters?: Parameter[]
  requestBody?: { content?: Record<string, { schema?: Schema }> }
  security?: Record<string, unknown>[]
}

/** The document this repository commits (`npm run openapi`). */
export const OPENAPI_PATH = join(import.meta.dirname, '..', 'openapi.json')

const METHODS = ['get', 'post', 'put', 'patch', 'delete']

/** The document's components, for `$ref` resolution. */
export type Components = Record<string, Schema>

/** Reads every operation of the document, and its schemas. */
export function readOperations(path = OPENAPI_PATH): {
  operations: Operation[]
  schemas: Components
} {
  const document = JSON.parse(readFileSync(path, 'utf8')) as {
    paths: Record<string, Record<string, RawOperation | Parameter[]>>
    components: { schemas: Components }
  }
  const operations: Operation[] = []
  for (const [route, item] of Object.entries(document.paths)) {
    const shared = (item.parameters as Parameter[] | undefined) ?? []
    const [, pkg = '', fn = '', ...rest] = route.split('/')
    for (const method of METHODS) {
      const raw = item[method] as RawOperation | undefined
      if (!raw || pkg !== 'v1') {
        continue
      }
      const security = raw.security ?? []
      operations.push({
        name: `${method.toUpperCase()} ${route}`,
        method: method.toUpperCase(),
        fn,
        subPath: rest.length > 0 ? `/${rest.join('/')}` : '',
        parameters: [...shared, ...(raw.parameters ?? [])],
        body: raw.requestBody?.content?.['application/json']?.schema,
        anonymous: security.length === 0 || security.some((s) => Object.keys(s).length === 0),
        adminOnly: security.some((s) => 'adminKey' in s),
      })
    }
  }
  return { operations, schemas: document.components.schemas }
}

/** The schema `schema` stands for, following `$ref`s into the components. */
export function resolve(schema: Schema, schemas: Components): Schema {
  let current = schema
  for (let depth = 0; current.$ref !== undefined && depth < 16; depth++) {
    const name = current.$ref.replace('#/components/schemas/', '')
    const target = schemas[name]
    if (!target) {
      throw new Error(`openapi.json: no schema ${current.$ref}`)
    }
    current = {
      ...target,
      ...Object.fromEntries(Object.entries(current).filter(([k]) => k !== '$ref')),
    }
  }
  return current
}
