import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeServer, startFakeServer } from './server.ts'

let fake: FakeServer

beforeAll(async () => {
  fake = await startFakeServer((req) => ({ status: 200, body: { path: req.path } }))
})

afterAll(async () => {
  await fake.close()
})

// Which of two requests sent together answers first (latencies are compared by order, never timed).
async function firstOf(a: RequestInit & { path: string }, b: RequestInit & { path: string }) {
  const order: string[] = []
  const call = async (r: RequestInit & { path: string }, name: string) => {
    await fetch(`${fake.url}${r.path}`, r)
    order.push(name)
  }
  await Promise.all([call(a, 'a'), call(b, 'b')])
  return order[0]
}

describe('fake server latencies', () => {
  describe('happy', () => {
    it('holds back the requests a rule matches, by path and method, and no others', async () => {
      fake.setLatencies([
        { method: 'POST', path: '/slow', ms: 300 },
        { path: /^\/also-slow$/, ms: 300 },
      ])
      expect(await firstOf({ path: '/slow', method: 'POST' }, { path: '/fast' })).toBe('b')
      expect(await firstOf({ path: '/also-slow' }, { path: '/fast' })).toBe('b')
      // A GET of /slow matches no rule: it does not wait behind the held-back POST.
      expect(await firstOf({ path: '/slow', method: 'POST' }, { path: '/slow' })).toBe('b')
    })

    it('serves held-back requests side by side, as an upstream does', async () => {
      fake.setLatencies([
        { path: '/short', ms: 300 },
        { path: '/long', ms: 600 },
      ])
      // Started second, the shorter wait still answers first: waits do not queue behind each other.
      expect(await firstOf({ path: '/long' }, { path: '/short' })).toBe('b')
    })

    it('applies the first rule that matches, and none after clearFaults or an empty list', async () => {
      fake.setLatencies([
        { path: '/x', ms: 0 },
        { path: '/', ms: 300 },
      ])
      expect(await firstOf({ path: '/y' }, { path: '/x' })).toBe('b')
      fake.setLatencies([])
      fake.setLatency(300, '/a')
      expect(await firstOf({ path: '/a' }, { path: '/b' })).toBe('b')
      fake.clearFaults()
      fake.setLatencies([{ path: '/b', ms: 300 }])
      expect(await firstOf({ path: '/b' }, { path: '/a' })).toBe('b')
    })
  })
})
