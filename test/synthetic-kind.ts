import type { PoolLike } from '#core/db/client.ts'
import { defineJobKind } from '#core/jobs/registry.ts'
import type { JobKind, Json, StepResult } from '#core/jobs/types.ts'

/** A chunk of the synthetic kind: `pages` pages of `perPage` items named `<key>:<page>:<n>`. */
export type SyntheticScope = { key: string; pages: number; perPage: number }
export type SyntheticCursor = { page: number }
export type SyntheticParams = { scopes: SyntheticScope[] }

/** What to do instead of (or before) a page. */
export type Fault =
  | { kind: 'retry'; reason?: string; retryAfterMs?: number }
  | { kind: 'throw'; error: unknown }
  | { kind: 'delay'; ms: number }

/** Where pages are written. Writes are upserts, as the real sinks' are. */
export type SyntheticSink = {
  write(page: { jobId: string; key: string; page: number; items: string[] }): Promise<void>
}

export type SyntheticOptions = {
  kind?: string
  sink: SyntheticSink
  /** Time each page takes, honouring the abort signal. */
  pageDelayMs?: number
  /** Consulted before each page; `attempt` counts this chunk's runs in this process, from 1. */
  fault?: (at: { key: string; page: number; attempt: number }) => Fault | undefined
}

/** A synthetic kind plus what it saw: where each run of a chunk started, and pages cut short. */
export type SyntheticKind = JobKind & {
  starts: Array<{ key: string; fromPage: number }>
  /** Pages whose wait was aborted (lost lease, cancel or time budget) before they were written. */
  aborted: Array<{ key: string; page: number }>
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** The items of one page, the same on every run. */
export function pageItems(scope: SyntheticScope, page: number): string[] {
  return Array.from({ length: scope.perPage }, (_, n) => `${scope.key}:${page}:${n}`)
}

/**
 * A job kind with deterministic pages for the engine's tests, with injectable retries, throws and
 * slow pages. Its params are `{ scopes }`, one chunk per scope.
 */
export function createSyntheticKind(options: SyntheticOptions): SyntheticKind {
  const starts: SyntheticKind['starts'] = []
  const aborted: SyntheticKind['aborted'] = []
  const runs = new Map<string, number>()
  const kind = defineJobKind<SyntheticParams, SyntheticScope, SyntheticCursor>({
    kind: options.kind ?? 'synthetic',
    plan: async (params) => params.scopes,
    async *run({ jobId, scope, cursor, signal }) {
      const attempt = (runs.get(scope.key) ?? 0) + 1
      runs.set(scope.key, attempt)
      starts.push({ key: scope.key, fromPage: cursor?.page ?? 0 })
      for (let page = cursor?.page ?? 0; page < scope.pages; page++) {
        const fault = options.fault?.({ key: scope.key, page, attempt })
        if (fault?.kind === 'retry') {
          const step: StepResult<SyntheticCursor> = {
            kind: 'retry',
            reason: fault.reason ?? 'synthetic',
            ...(fault.retryAfterMs !== undefined && { retryAfterMs: fault.retryAfterMs }),
          }
          yield step
          return
        }
        if (fault?.kind === 'throw') {
          throw fault.error
        }
        const delay = (fault?.kind === 'delay' ? fault.ms : 0) + (options.pageDelayMs ?? 0)
        if (delay > 0) {
          await sleep(delay, signal).catch((err: unknown) => {
            aborted.push({ key: scope.key, page })
            throw err
          })
        }
        const items = pageItems(scope, page)
        await options.sink.write({ jobId, key: scope.key, page, items })
        yield {
          kind: 'page',
          cursor: { page: page + 1 },
          fetched: items.length,
          written: items.length,
        }
      }
    },
  })
  return Object.assign(kind, { starts, aborted })
}

/** A sink in memory: every write, in order. */
export function memorySink(): SyntheticSink & {
  writes: Array<{ jobId: string; key: string; page: number; items: string[] }>
} {
  const writes: Array<{ jobId: string; key: string; page: number; items: string[] }> = []
  return {
    writes,
    write: async (page) => {
      writes.push(page)
    },
  }
}

/** The table a `tableSink` writes to (created on first use; tests own their database). */
export async function createSyntheticTable(pool: Pick<PoolLike, 'query'>): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS synthetic_items (
      item text PRIMARY KEY,
      key text NOT NULL,
      job_id uuid NOT NULL,
      writes integer NOT NULL DEFAULT 1
    )`)
}

/** A sink into `synthetic_items`: an upsert per item that counts how often it was written. */
export function tableSink(pool: Pick<PoolLike, 'query'>): SyntheticSink {
  return {
    write: async ({ jobId, key, items }) => {
      await pool.query(
        `INSERT INTO synthetic_items (item, key, job_id)
         SELECT unnest($1::text[]), $2, $3
         ON CONFLICT (item) DO UPDATE SET writes = synthetic_items.writes + 1`,
        [items, key, jobId],
      )
    },
  }
}

/** The params of a synthetic job. */
export function syntheticParams(scopes: SyntheticScope[]): Json {
  return { scopes } as unknown as Json
}
