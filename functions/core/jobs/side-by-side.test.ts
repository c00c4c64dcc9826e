import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { type ChunkPart, sideBySide } from './side-by-side.ts'
import type { StepResult } from './types.ts'

const page = (cursor: number): StepResult<number> => ({
  kind: 'page',
  cursor,
  fetched: 1,
  written: 1,
})

/** A part that yields a step for each of `delays` (ms before it), and records how it ended. */
function part(delays: number[], from = 0) {
  const seen = { steps: 0, closed: false, aborted: false }
  const chunkPart: ChunkPart<number> = {
    at: from,
    async *run(signal) {
      try {
        for (const [n, ms] of delays.entries()) {
          await sleep(ms, undefined, { signal })
          seen.steps += 1
          yield page(from + n + 1)
        }
      } finally {
        seen.closed = true
        seen.aborted = signal.aborted
      }
    },
  }
  return { chunkPart, seen }
}

async function collect<T>(steps: AsyncGenerator<T, void, void>): Promise<T[]> {
  const all: T[] = []
  for await (const step of steps) {
    all.push(step)
  }
  return all
}

const pair = (a: number, b: number) => [a, b]

describe('two parts of a chunk side by side', () => {
  it('yields each step of either part with both parts’ latest cursors, and ends when both end', async () => {
    const a = part([10, 40, 40])
    const b = part([30, 40], 100)
    const steps = await collect(
      sideBySide(new AbortController().signal, a.chunkPart, b.chunkPart, pair),
    )
    expect(steps.map((step) => step.kind === 'page' && step.cursor)).toEqual([
      [1, 100],
      [1, 101],
      [2, 101],
      [2, 102],
      [3, 102],
    ])
    expect(a.seen).toEqual({ steps: 3, closed: true, aborted: false })
    expect(b.seen.closed).toBe(true)
  })

  it('starts from the cursors it was given', async () => {
    const a = part([], 7)
    const b = part([5], 40)
    const steps = await collect(
      sideBySide(new AbortController().signal, a.chunkPart, b.chunkPart, pair),
    )
    expect(steps).toEqual([{ kind: 'page', cursor: [7, 41], fetched: 1, written: 1 }])
  })

  it('ends the attempt on a retry of one part, stopping the other where it was', async () => {
    const slow = part([10, 10_000])
    const retrying: ChunkPart<number> = {
      at: 0,
      async *run() {
        await sleep(30)
        yield { kind: 'retry', reason: 'upstream-unavailable', retryAfterMs: 2000 }
      },
    }
    const started = performance.now()
    const steps = await collect(
      sideBySide(new AbortController().signal, slow.chunkPart, retrying, pair),
    )
    expect(steps).toEqual([
      { kind: 'page', cursor: [1, 0], fetched: 1, written: 1 },
      { kind: 'retry', reason: 'upstream-unavailable', retryAfterMs: 2000 },
    ])
    expect(slow.seen).toEqual({ steps: 1, closed: true, aborted: true })
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('throws what a part threw, once the other has stopped', async () => {
    const other = part([10_000])
    const failing: ChunkPart<number> = {
      at: 0,
      // biome-ignore lint/correctness/useYield: a part that fails before its first step
      async *run() {
        await sleep(10)
        throw new Error('lease lost')
      },
    }
    await expect(
      collect(sideBySide(new AbortController().signal, other.chunkPart, failing, pair)),
    ).rejects.toThrow('lease lost')
    expect(other.seen).toEqual({ steps: 0, closed: true, aborted: true })
  })

  it('stops both parts when the engine stops taking steps, or the chunk’s signal aborts', async () => {
    const a = part([10, 10_000])
    const b = part([10_000])
    const steps = sideBySide(new AbortController().signal, a.chunkPart, b.chunkPart, pair)
    expect((await steps.next()).value).toMatchObject({ cursor: [1, 0] })
    await steps.return()
    expect([a.seen, b.seen]).toEqual([
      { steps: 1, closed: true, aborted: true },
      { steps: 0, closed: true, aborted: true },
    ])

    const chunk = new AbortController()
    const c = part([10_000])
    const d = part([10_000])
    const ending = collect(sideBySide(chunk.signal, c.chunkPart, d.chunkPart, pair))
    chunk.abort()
    await expect(ending).rejects.toMatchObject({ name: 'AbortError' })
    expect([c.seen.aborted, d.seen.aborted]).toEqual([true, true])
  })

  it('lets a part go on to its next step while the step before is being stored', async () => {
    const a = part([5, 5, 5])
    const b = part([])
    const steps = sideBySide(new AbortController().signal, a.chunkPart, b.chunkPart, pair)
    await steps.next() // the first step, then a checkpoint that takes a while
    await sleep(100)
    expect(a.seen.steps).toBe(2)
    await steps.return()
  })
})
