// `npm run backfill -- …` (README, "Scripts"): starts, lists, follows, cancels and resumes backfills
// through the typed client, drawing progress bars. The commands are in backfill-command.ts.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createApiClient } from '#client/api.ts'
import { EXIT, parseCommand, runCommand, USAGE } from './backfill-command.ts'
import { ROOT } from './project.ts'

function fail(message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(EXIT.error)
}

function adminKey(given: string | undefined): string {
  const local = join(ROOT, '.data', 'dev-admin-key')
  const key =
    given ??
    process.env.ADMIN_KEY ??
    (existsSync(local) ? readFileSync(local, 'utf8').trim() : undefined)
  return key ?? fail('No admin key: pass --key or set ADMIN_KEY.')
}

async function main() {
  const parsed = parseCommand(process.argv.slice(2))
  if ('error' in parsed) {
    fail(`${parsed.error}\n${USAGE}`)
  }
  const { command } = parsed
  const baseUrl = parsed.url ?? process.env.AGENT_PM_URL ?? 'http://127.0.0.1:3000/api/v1/web/local'
  const api = createApiClient({
    baseUrl,
    ...(command.kind !== 'help' && { adminKey: adminKey(parsed.key) }),
  })
  let following: string | undefined
  process.on('SIGINT', () => {
    const source = 'source' in command ? command.source : 'jira'
    const cancel = `npm run backfill -- cancel ${source} ${following ?? '<jobId>'}`
    process.stderr.write(`\nstopped watching; the job goes on. Cancel it: ${cancel}\n`)
    process.exit(130)
  })
  const io = {
    out: (text: string) => process.stdout.write(text),
    err: (text: string) => process.stderr.write(text),
    tty: Boolean(process.stderr.isTTY),
    following: (jobId: string) => {
      following = jobId
    },
  }
  process.exitCode = await runCommand(command, api, io)
}

main().catch((err: unknown) =>
  fail(`backfill: ${err instanceof Error ? err.message : String(err)}`),
)
