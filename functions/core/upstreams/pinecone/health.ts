import type { HealthCheck } from '#core/health/checks.ts'
import type { PineconeSink } from './client.ts'

/**
 * The deep health check of the vector index: reachable, and its dimension equal to the embedding
 * model's. Details (for admins) name the reason, never the key or host.
 * @example createHealthHandler({ ...services, checks: [pineconeCheck(services.pinecone)] })
 */
export function pineconeCheck(sink: PineconeSink | undefined): HealthCheck {
  return {
    name: 'pinecone',
    run: async () => {
      if (!sink) {
        return { ok: false, details: { error: 'not configured' } }
      }
      const checked = await sink.checkIndex()
      return checked.ok
        ? { ok: true, details: { dimension: checked.dimension } }
        : { ok: false, details: { error: checked.reason } }
    },
  }
}
