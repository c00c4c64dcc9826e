import { assert, beforeEach, describe, expect, it } from 'vitest'
import type { Services } from '#core/services.ts'
import { CLIENT_ADMIN_KEY, clientWorld } from '#test/client-world.ts'
import { useTestDatabase } from '#test/database.ts'
import { type Command, EXIT, parseCommand, runCommand } from './backfill-command.ts'

const getDatabase = useTestDatabase()
const ID = '00000000-0000-4000-8000-000000000001'

beforeEach(async () => {
  await getDatabase().pool.query('delete from jobs')
})

/** A worker's whole part: every queued chunk of the synthetic kind, both pages, done. */
async function workEverything(services: Services) {
  for (;;) {
    const claimed = await services.jobs.claim({ kinds: ['synthetic'], leaseMs: 60_000 })
    if (!claimed) {
      return
    }
    for (const page of [1, 2]) {
      await services.jobs.checkpoint(claimed.lease, { page }, { fetched: 5, written: 5 }, 60_000)
    }
    await services.jobs.complete(claimed.lease)
  }
}

/** Runs a command line against the functions; what it printed and its exit code. */
function cli(options: { onServerTick?: (tick: number, services: Services) => Promise<void> } = {}) {
  const world = clientWorld({ database: getDatabase(), ...options })
  const api = world.client({ adminKey: CLIENT_ADMIN_KEY })
  return {
    ...world,
    async run(args: string[]) {
      const parsed = parseCommand(args)
      assert(!('error' in parsed), JSON.stringify(parsed))
      const out: string[] = []
      const err: string[] = []
      const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), tty: false }
      const code = await runCommand(parsed.command, api, io)
      return { code, out: out.join(''), err: err.join('') }
    },
  }
}

describe('npm run backfill', () => {
  describe('arguments', () => {
    it('reads each command, its source, options and job id', () => {
      const cases: Array<[string[], Command]> = [
        [[], { kind: 'help' }],
        [['--help'], { kind: 'help' }],
        [
          ['jira', '--days', '30', '--projects', 'OPS, WEB'],
          { kind: 'start', source: 'jira', input: { days: 30, projects: ['OPS', 'WEB'] } },
        ],
        [
          ['tempo', '--from', '2026-01-01', '--to', '2026-01-31'],
          { kind: 'start', source: 'tempo', input: { from: '2026-01-01', to: '2026-01-31' } },
        ],
        [['tempo', '--days', 'ten'], { kind: 'start', source: 'tempo', input: { days: 'ten' } }],
        [['jobs', 'tempo', '--limit', '5'], { kind: 'jobs', source: 'tempo', limit: 5 }],
        [['jobs', 'jira'], { kind: 'jobs', source: 'jira' }],
        [['watch', 'jira', ID], { kind: 'watch', source: 'jira', jobId: ID }],
        [['cancel', 'tempo', ID], { kind: 'cancel', source: 'tempo', jobId: ID }],
        [['resume', 'jira', ID], { kind: 'resume', source: 'jira', jobId: ID }],
      ]
      for (const [args, command] of cases) {
        expect(parseCommand(args), args.join(' ')).toEqual({ command })
      }
      expect(parseCommand(['jobs', 'jira', '--url', 'https://x', '--key', 'k'])).toEqual({
        command: { kind: 'jobs', source: 'jira' },
        url: 'https://x',
        key: 'k',
      })
    })

    it('names what is wrong with a command line', () => {
      expect(parseCommand(['cancel', 'jira'])).toEqual({ error: 'cancel: name the job id.' })
      expect(parseCommand(['jobs', 'pinecone'])).toEqual({ error: 'jobs: name jira or tempo.' })
      expect(parseCommand(['frobnicate', 'jira'])).toEqual({ error: 'unknown command: frobnicate' })
      expect(parseCommand(['jira', '--force'])).toMatchObject({
        error: expect.stringMatching(/force/),
      })
    })
  })

  describe('happy', () => {
    it('starts a backfill and draws its progress until it succeeds', async () => {
      const { run } = cli({ onServerTick: async (_tick, services) => workEverything(services) })
      const { code, err } = await run(['jira', '--projects', 'OPS,WEB'])
      expect(code).toBe(EXIT.ok)
      const lines = err.trim().split('\n')
      expect(lines[0]).toMatch(/^started jira backfill [0-9a-f-]{36}$/)
      expect(lines.slice(1)).toEqual([
        '[........................]  0/2 chunks · 0 written · queued',
        // The rate is measured by the database's clock.
        expect.stringMatching(/^\[#{24}\] {2}2\/2 chunks · 20 written · \d+\/s · succeeded$/),
      ])
    })

    it('lists jobs newest first, cancels one (exit 0 once cancelled) and resumes it to the end', async () => {
      const { run, services } = cli({
        onServerTick: async (tick, s) => (tick > 0 ? workEverything(s) : undefined),
      })
      const first = await services.jobs.enqueue({
        kind: 'synthetic',
        params: {},
        scopes: [{ key: 'A', pages: 2, perPage: 5 }],
        createdBy: 'test',
      })
      const cancelled = await run(['cancel', 'tempo', first.job.id])
      expect(cancelled.code).toBe(EXIT.ok)
      expect(cancelled.err).toContain(`cancel requested for ${first.job.id}`)
      expect(cancelled.err.trim().split('\n').at(-1)).toMatch(/· cancelled$/)

      const jobs = await run(['jobs', 'tempo'])
      expect(jobs.code).toBe(EXIT.ok)
      expect(jobs.out.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(`^${first.job.id}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  .*cancelled$`),
        ),
      ])

      const resumed = await run(['resume', 'tempo', first.job.id])
      expect(resumed.err).toContain(`resumed ${first.job.id}`)
      expect(resumed.err.trim().split('\n').at(-1)).toMatch(/· succeeded$/)
      expect(resumed.code).toBe(EXIT.ok)
    })

    it('follows the active backfill when one is already running', async () => {
      const { run, services } = cli({ onServerTick: async (_t, s) => workEverything(s) })
      const active = await services.jobs.enqueue({
        kind: 'synthetic',
        params: {},
        scopes: [{ key: 'A', pages: 2, perPage: 5 }],
        dedupeKey: 'synthetic-tempo',
        createdBy: 'test',
      })
      const { code, err } = await run(['tempo', '--days', '30'])
      expect(err).toMatch(
        new RegExp(`^A tempo backfill is already active \\(${active.job.id}\\); following it\\.\n`),
      )
      expect(err.trim().split('\n').at(-1)).toMatch(/· succeeded$/)
      expect(code).toBe(EXIT.ok)
    })
  })

  describe('errors', () => {
    it('prints each invalid field and the request id, and exits 2', async () => {
      const { run } = cli()
      const { code, err } = await run(['jira', '--days', '0', '--projects', 'ops'])
      expect(code).toBe(EXIT.error)
      expect(err).toMatch(
        /^start: BAD_REQUEST \(400\): The request is not valid\. \[request \S+\]\n/,
      )
      expect(err).toContain('\n  days: ')
      expect(err).toContain('\n  projects.0: Use a Jira project key.')
    })

    it('says a job does not exist, and that a finished one cannot be cancelled', async () => {
      const { run, services } = cli()
      const missing = await run(['watch', 'jira', ID])
      expect(missing.code).toBe(EXIT.error)
      expect(missing.err).toMatch(/NOT_FOUND \(404\)/)
      const done = await services.jobs.enqueue({
        kind: 'synthetic',
        params: {},
        scopes: [],
        createdBy: 'test',
      })
      const refused = await run(['cancel', 'jira', done.job.id])
      expect(refused.code).toBe(EXIT.error)
      expect(refused.err).toMatch(
        /^cancel: CONFLICT \(409\): This jira backfill has already finished/,
      )
    })
  })
})
