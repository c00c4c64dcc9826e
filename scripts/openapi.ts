// `npm run openapi`: writes openapi.json, the API's published contract (README, "The API
// contract and the client"), from the functions' schemas. openapi/document.test.ts fails when the
// committed file differs from what this writes.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildOpenApiDocument } from '#openapi/document.ts'
import { ROOT } from './project.ts'

/** The document as written to openapi.json: two-space JSON with a final newline. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`
}

if (process.argv[1] === import.meta.filename) {
  const file = join(ROOT, 'openapi.json')
  writeFileSync(file, openApiText())
  console.log(`wrote ${file.slice(ROOT.length + 1)}`)
}
