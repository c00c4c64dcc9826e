import type { Json, StepResult } from './types.ts'

/** One part of a chunk: its cursor so far, and its steps from there on `signal`. */
export type ChunkPart<Cursor extends Json> = {
  at: Cursor
  run(signal: AbortSignal): AsyncGenerator<StepResult<Cursor>, void, void>
}

type Pulled<Cursor extends Json> =
  | { result: IteratorResult<StepResult<Cursor>, void> }
  | { error: unknown }

/**
 * Runs two parts of one chunk side by side (docs/ARCHITECTURE.md, "The job engine"): every step
 * of either part is yielded with `combine` of both parts' latest cursors, so each checkpoint holds
 * both positions and a resumed chunk continues each part where it stood. A part asks for its next
 * step while the step before is being stored. A retry step or a throw of either part aborts the
 * other and ends the attempt with it; the chunk is done when both parts are.
 * @example yield* sideBySide(input.signal, pages, reconcile, (p, r) => ({ ...p, reconcile: r }))
 */
export async function* sideBySide<A extends Json, B extends Json, C extends Json>(
  signal: AbortSignal,
  first: ChunkPart<A>,
  second: ChunkPart<B>,
  combine: (a: A, b: B) => C,
): AsyncGenerator<StepResult<C>, void, void> {
  const stop = new AbortController()
  const partSignal = AbortSignal.any([signal, stop.signal])
  const a = running(first, partSignal)
  const b = running(second, partSignal)
  try {
    while (a.next || b.next) {
      const [part, pulled] = await Promise.race(
        [a, b].flatMap((p) => (p.next ? [p.next.then((got) => [p, got] as const)] : [])),
      )
      if ('error' in pulled) {
        throw pulled.error
      }
      if (pulled.result.done) {
        part.next = undefined
        continue
      }
      const step = pulled.result.value
      if (step.kind !== 'page') {
        yield step
        return
      }
      part.at = step.cursor
      part.pull()
      yield { ...step, cursor: combine(a.at as A, b.at as B) }
    }
  } finally {
    stop.abort()
    await Promise.allSettled([a.next, b.next])
    await Promise.allSettled([a.generator.return(), b.generator.return()])
  }
}

function running<Cursor extends Json>(part: ChunkPart<Cursor>, signal: AbortSignal) {
  const generator = part.run(signal)
  const state = {
    generator,
    at: part.at as Json,
    next: undefined as Promise<Pulled<Cursor>> | undefined,
    pull() {
      state.next = generator.next().then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      )
    },
  }
  state.pull()
  return state
}
