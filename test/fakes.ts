import { afterAll, beforeAll, beforeEach } from 'vitest'
import { type FakeGoogle, type FakeGoogleOptions, startFakeGoogle } from '#sandbox/fakes/google.ts'
import { type FakeJira, type FakeJiraOptions, startFakeJira } from '#sandbox/fakes/jira.ts'
import {
  type FakePinecone,
  type FakePineconeOptions,
  startFakePinecone,
} from '#sandbox/fakes/pinecone.ts'
import type { FakeServer } from '#sandbox/fakes/server.ts'
import { type FakeTempo, type FakeTempoOptions, startFakeTempo } from '#sandbox/fakes/tempo.ts'

// Vitest hooks for the fakes, kept apart from them because sandbox/sandbox.ts runs the fakes
// without vitest. Each hook starts its fake once per file, resets it before every test and closes it
// after the file; it returns a handle that stands for the running fake inside tests and hooks.

/** A fake Jira for this file, back to fresh (clock `options.now`) before each test. */
export function useFakeJira(options: FakeJiraOptions = {}): FakeJira {
  return useFake(
    'fake Jira',
    () => startFakeJira(options),
    (jira) => jira.reset(),
  )
}

/** A fake Tempo for this file, back to fresh before each test. */
export function useFakeTempo(options: FakeTempoOptions = {}): FakeTempo {
  return useFake(
    'fake Tempo',
    () => startFakeTempo(options),
    (tempo) => tempo.reset(),
  )
}

/** A fake Pinecone for this file, with an empty index before each test. */
export function useFakePinecone(options: FakePineconeOptions = {}): FakePinecone {
  return useFake(
    'fake Pinecone',
    () => startFakePinecone(options),
    (pinecone) => pinecone.reset(),
  )
}

/**
 * A fake Google for this file. Before each test: no faults, recorded requests or key override,
 * and token times pinned to `options.now` (the wall clock when unset). Rotated keys stay rotated.
 */
export function useFakeGoogle(options: FakeGoogleOptions & { now?: Date } = {}): FakeGoogle {
  const { now, ...startOptions } = options
  return useFake(
    'fake Google',
    () => startFakeGoogle(startOptions),
    (google) => {
      google.clearFaults()
      google.requests.length = 0
      google.setKeys(undefined)
      google.setNow(now)
    },
  )
}

function useFake<T extends FakeServer>(
  name: string,
  start: () => Promise<T>,
  reset: (fake: T) => void,
): T {
  let fake: T | undefined
  const running = (): T => {
    if (fake === undefined) {
      throw new Error(`${name} is not running: use it in a test or hook, after its beforeAll`)
    }
    return fake
  }
  beforeAll(async () => {
    fake = await start()
  })
  beforeEach(() => {
    reset(running())
  })
  afterAll(async () => {
    await fake?.close() // undefined when the start failed; keep that error in front
    fake = undefined
  })
  // Tests are declared before the fake starts, so they get a stand-in that forwards to it.
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(running(), key),
    set: (_, key, value) => Reflect.set(running(), key, value),
    has: (_, key) => Reflect.has(running(), key),
  })
}
