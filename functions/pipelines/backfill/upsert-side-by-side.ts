import type { UpstreamFailure } from '#core/upstreams/failure.ts'
import { MAX_EMBED_INPUTS } from '#core/upstreams/pinecone/batches.ts'
import type { PineconeDocument, PineconeSink } from '#core/upstreams/pinecone/client.ts'

/**
 * Upserts `docs` as slices of at most one embedding batch each (96 inputs), evenly sized, all at
 * once: a page of 100 issues takes one embed and one upsert time instead of two embeds and an
 * upsert one after another (docs/ARCHITECTURE.md, "Pipelines"). The pacer still spaces every
 * request. The result is the sum, or the first failure; slices that succeeded stay written (an
 * upsert by id, so the retry repeats them harmlessly).
 * @example const upserted = await upsertSideBySide(deps.pinecone, documents, signal)
 */
export async function upsertSideBySide(
  sink: Pick<PineconeSink, 'upsertDocuments'>,
  docs: readonly PineconeDocument[],
  signal?: AbortSignal,
): Promise<{ ok: true; written: number } | UpstreamFailure> {
  const slices = evenSlices(docs, MAX_EMBED_INPUTS)
  if (slices.length <= 1) {
    return sink.upsertDocuments(docs, signal)
  }
  const results = await Promise.all(slices.map((slice) => sink.upsertDocuments(slice, signal)))
  let written = 0
  for (const result of results) {
    if (!result.ok) {
      return result
    }
    written += result.written
  }
  return { ok: true, written }
}

/** `items` in the fewest slices of at most `max`, their sizes differing by at most one. */
export function evenSlices<T>(items: readonly T[], max: number): T[][] {
  const count = Math.ceil(items.length / max)
  const slices: T[][] = []
  let start = 0
  for (let n = 0; n < count; n += 1) {
    const size = Math.ceil((items.length - start) / (count - n))
    slices.push(items.slice(start, start + size))
    start += size
  }
  return slices
}
