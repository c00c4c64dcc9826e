import type { HttpHandler } from '#core/http/types.ts'
import { LIMITS } from '#core/rate-limit/rules.ts'
import { type BackfillRoutesDeps, createBackfillHandler } from '#pipelines/backfill/routes.ts'
import { tempoBackfillBody } from '#pipelines/tempo/inputs.ts'

export type BackfillTempoDeps = BackfillRoutesDeps & { basePath: string }

/**
 * v1/backfill-tempo: `POST /` starts a Tempo → Postgres and Pinecone backfill (admin, 5 an hour;
 * `days`, or `from` and `to`, and optional `projects`), `GET /` lists, `GET /:jobId` shows
 * progress, `DELETE /:jobId` cancels, `POST /:jobId/resume` resumes.
 */
export function createBackfillTempoHandler(deps: BackfillTempoDeps): HttpHandler {
  return (req) => {
    // "Not after today" is today in UTC by the injected clock, at the time of each request.
    const today = deps.clock.now().toISOString().slice(0, 10)
    const handle = createBackfillHandler(deps, {
      kind: 'backfill-tempo',
      label: 'Tempo backfill',
      input: tempoBackfillBody(today),
      // One Tempo backfill at a time, whatever its range: they share Tempo's 5 requests a second.
      dedupeKey: () => 'backfill-tempo',
      rateRule: LIMITS.tempoBackfillStart,
      basePath: deps.basePath,
    })
    return handle(req)
  }
}
