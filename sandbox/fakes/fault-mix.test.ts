import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createFaultMix, FAULT_KINDS, type FaultUpstream } from './fault-mix.ts'
import { type RecordedRequest, seededRandom, startFakeServer } from './server.ts'

const REQUEST: RecordedRequest = {
  method: 'GET',
  path: '/rest/api/3/search/jql',
  query: new URLSearchParams(),
  headers: {},
  body: '',
  rawBody: '',
}

function decisions(seed: number, upstream: FaultUpstream, n: number) {
  const mix = createFaultMix({ rate: 0.1, random: seededRandom(seed), now: () => 0 })
  const pick = mix.picker(upstream)
  return { rules: Array.from({ length: n }, () => pick(REQUEST)), mix }
}

describe('createFaultMix', () => {
  it('repeats the same decisions for the same seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        expect(decisions(seed, 'jira', 200).rules).toEqual(decisions(seed, 'jira', 200).rules)
      }),
      { numRuns: 50 },
    )
  })

  it('fails about the share asked for, with every kind of fault, and counts them', () => {
    const { rules, mix } = decisions(7, 'tempo', 10_000)
    const injected = rules.filter((rule) => rule !== undefined).length
    expect(injected).toBeGreaterThan(900)
    expect(injected).toBeLessThan(1100)
    expect(mix.total()).toBe(injected)
    expect(mix.seen()).toBe(10_000)
    for (const kind of FAULT_KINDS) {
      expect(mix.counts().tempo[kind], kind).toBeGreaterThan(0)
    }
    expect(mix.counts().jira['server-error']).toBe(0)
  })

  it('records when each fault was injected, and into which upstream', () => {
    let clock = 1000
    const mix = createFaultMix({ rate: 0.5, random: seededRandom(3), now: () => clock })
    const decided = Array.from({ length: 40 }, (_, n) => {
      clock = 1000 + n
      return mix.picker(n % 2 === 0 ? 'jira' : 'tempo')(REQUEST) !== undefined
    })
    const expected = decided.flatMap((failed, n) =>
      failed ? [{ at: 1000 + n, upstream: n % 2 === 0 ? 'jira' : 'tempo' }] : [],
    )
    expect(expected.length).toBeGreaterThan(5)
    expect(mix.injected()).toEqual(expected)
  })

  it('injects nothing while disabled', () => {
    const mix = createFaultMix({ rate: 1, random: seededRandom(1) })
    mix.setEnabled(false)
    expect(mix.picker('pinecone')(REQUEST)).toBeUndefined()
    expect(mix.total()).toBe(0)
  })

  it('answers through a fake: 429 with Retry-After, truncated JSON, Jira-shaped errors', async () => {
    const fake = await startFakeServer(() => ({ status: 200, body: { ok: true } }))
    const mix = createFaultMix({ rate: 1, random: seededRandom(3) })
    fake.injectFaults(mix.picker('jira'))
    const seen = new Map<number, { headers: Headers; text: string }>()
    try {
      for (let n = 0; n < 60 && seen.size < 4; n += 1) {
        const res = await fetch(`${fake.url}/rest/api/3/search/jql`).catch(() => undefined)
        if (res) {
          seen.set(res.status, { headers: res.headers, text: await res.text() })
        }
      }
    } finally {
      fake.injectFaults(undefined)
      await fake.close()
    }
    expect(seen.get(429)?.headers.get('retry-after')).toBe('1')
    expect(seen.get(429)?.headers.get('ratelimit-reason')).toBe('jira-burst-based')
    expect(JSON.parse(seen.get(500)?.text ?? '{}')).toEqual({
      errorMessages: ['Internal error.'],
      errors: {},
    })
    const truncated = seen.get(200)?.text ?? ''
    expect(() => JSON.parse(truncated)).toThrow()
  })
})
