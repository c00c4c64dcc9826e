// The soak's short form: one minute of faults, restarts, kills, concurrent backfills, upstream
// changes and daily syncs against the local stack, then every target of README "Reliability" met.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CHANGE_KINDS } from './changes.ts'
import type { SoakResults } from './run.ts'

const SCRIPT = join(import.meta.dirname, 'cli.ts')

describe('npm run soak -- --minutes 1', () => {
  it('survives a minute of chaos with every target met', { timeout: 360_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'soak-test-'))
    const out = join(dir, 'soak-results.json')
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', SCRIPT, '--minutes', '1', '--seed', '20260601', '--out', out],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'silent' } },
      )
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      const [code] = (await once(child, 'exit')) as [number | null]
      const results = JSON.parse(await readFile(out, 'utf8')) as SoakResults & { command: string }

      expect(
        results.targets.filter((target) => !target.met),
        output.slice(-3000),
      ).toEqual([])
      expect(code).toBe(0)
      expect(results.ok).toBe(true)
      // The chaos happened: faults, a restart, kills, every kind of change, starts, cancels,
      // resumes and a daily sync.
      expect(results.faults.total).toBeGreaterThan(0)
      expect(results.postgresRestarts.done).toBeGreaterThanOrEqual(1)
      expect(results.workerKills.done).toBeGreaterThanOrEqual(1)
      for (const kind of CHANGE_KINDS) {
        expect(results.changes[kind], kind).toBeGreaterThanOrEqual(1)
      }
      for (const action of ['start-jira', 'start-tempo', 'follow']) {
        expect(results.clientActions[action], action).toBeGreaterThanOrEqual(1)
      }
      expect(results.dailySyncs).toBeGreaterThanOrEqual(1)
      // The comparison covered the whole sample organisation.
      expect(results.data?.jiraVectors.stored).toBe(results.data?.jiraVectors.expected)
      expect(results.data?.tempoRows.expected).toBeGreaterThan(800)
      expect(results.data?.tempoRows.stored).toBe(results.data?.tempoRows.expected)
      expect(results.data?.tempoVectors.stored).toBe(results.data?.tempoVectors.expected)
      expect(results.command).toBe('npm run soak -- --minutes 1 --seed 20260601')
      expect(output).toMatch(/\[soak 0:\d\d\/1:00\] requests \d+ \(5xx 0\) upstream \d+ faults \d+/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
