import { isoDay } from '#core/dates.ts'
import type { HttpHandler } from '#core/http/types.ts'
import { type BackfillRoutesDeps, createBackfillHandler } from '#pipelines/backfill/routes.ts'
import { TEMPO_START_LIMIT, tempoBackfillInput } from '#pipelines/tempo/inputs.ts'

/**
 * v1/backfill-tempo: `POST /` starts a Tempo → Postgres and Pinecone backfill (admin, 5 an hour;
 * `days`, or `from` and `to`, and optional `projects`), `GET /` lists, `GET /:jobId` shows
 * progress, `DELETE /:jobId` cancels, `POST /:jobId/resume` resumes.
 */
export function createBackfillTempoHandler(deps: BackfillRoutesDeps): HttpHandler {
  return createBackfillHandler(deps, {
    kind: 'backfill-tempo',
    label: 'Tempo backfill',
    // "Not after today" is today in UTC by the injected clock, when each request is validated.
    input: tempoBackfillInput(() => isoDay(deps.clock.now())),
    // One Tempo backfill at a time, whatever its range: they share Tempo's 5 requests a second.
    dedupeKey: () => 'backfill-tempo',
    rateRule: TEMPO_START_LIMIT,
  })
}
