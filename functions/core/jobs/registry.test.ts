import { describe, expect, it } from 'vitest'
import type { EnqueueRequest, EnqueueResult } from './queue.ts'
import { createJobRegistry, defineJobKind, startJob } from './registry.ts'

const aKind = (kind: string) =>
  defineJobKind<{ projects: string[] }, { project: string }, { token: string }>({
    kind,
    plan: async (params) => params.projects.map((project) => ({ project })),
    async *run() {},
  })

describe('job registry', () => {
  it('finds kinds by name and lists their names', () => {
    const registry = createJobRegistry([aKind('a'), aKind('b')])
    expect(registry.names).toEqual(['a', 'b'])
    expect(registry.get('b')?.kind).toBe('b')
    expect(registry.get('c')).toBeUndefined()
  })

  it('refuses a kind registered twice and a daily sync of an unknown kind', () => {
    expect(() => createJobRegistry([aKind('a'), aKind('a')])).toThrow('registered twice')
    expect(() =>
      createJobRegistry([aKind('a')], [{ kind: 'sync-x', dedupeKey: 'x', params: () => ({}) }]),
    ).toThrow('sync-x')
  })

  it('starts a job with the chunks its kind plans', async () => {
    const requests: EnqueueRequest[] = []
    const jobs = {
      enqueue: async (request: EnqueueRequest) => {
        requests.push(request)
        return { created: true } as EnqueueResult
      },
    }
    const registry = createJobRegistry([aKind('backfill-x')])
    await startJob(
      { jobs, registry },
      { kind: 'backfill-x', params: { projects: ['OPS', 'WEB'] }, createdBy: 'u1', dedupeKey: 'x' },
    )
    expect(requests).toEqual([
      {
        kind: 'backfill-x',
        params: { projects: ['OPS', 'WEB'] },
        createdBy: 'u1',
        dedupeKey: 'x',
        scopes: [{ project: 'OPS' }, { project: 'WEB' }],
      },
    ])
    await expect(
      startJob({ jobs, registry }, { kind: 'nope', params: {}, createdBy: 'u1' }),
    ).rejects.toThrow('not registered')
  })
})
