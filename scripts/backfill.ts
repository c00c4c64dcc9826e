// `npm run backfill -- jira|tempo [options]`: starts a backfill through its function and shows its
// progress until it ends; `npm run backfill -- watch jira|tempo <jobId>` follows one.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { JobView } from '#core/jobs/job-view.ts'
import { pollDelaySeconds, renderProgress } from './progress-bar.ts'
import { ROOT } from './project.ts'

const USAGE = `usage:
  npm run backfill -- jira  [--days N] [--projects A,B]
  npm run backfill -- tempo [--days N | --from YYYY-MM-DD --to YYYY-MM-DD] [--projects A,B]
  npm run backfill -- watch jira|tempo <jobId>
options: --url <base> (default $AGENT_PM_URL or http://127.0.0.1:3000/api/v1/web/local)
         --key <admin key> (default $ADMIN_KEY, or the local server's development key)`

const FINAL = new Set(['succeeded', 'failed', 'cancelled'])
// Consecutive 429/503 answers after which watching stops (the job itself goes on).
const MAX_REFUSALS = 10

// The parts of the backfill functions' answers this command reads.
type Answer = { job?: JobView; error?: { code: string; details?: { job?: JobView } } }

function fail(message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(2)
}

function adminKey(given: string | undefined): string {
  const local = join(ROOT, '.data', 'dev-admin-key')
  const key =
    given ??
    process.env.ADMIN_KEY ??
    (existsSync(local) ? readFileSync(local, 'utf8').trim() : undefined)
  return key ?? fail('No admin key: pass --key or set ADMIN_KEY.')
}

type Reply = { status: number; body: Answer | undefined; headers: Headers }

async function call(url: string, key: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json', 'x-admin-key': key, ...init.headers },
  })
  const text = await res.text()
  try {
    return {
      status: res.status,
      body: text ? (JSON.parse(text) as Answer) : undefined,
      headers: res.headers,
    }
  } catch {
    return { status: res.status, body: undefined, headers: res.headers } // e.g. a platform error page
  }
}

async function watch(url: string, key: string, jobId: string): Promise<JobView> {
  const tty = process.stderr.isTTY
  let last = ''
  let refusals = 0
  for (;;) {
    const reply = await call(`${url}/${jobId}`, key)
    const job = reply.body?.job
    if (reply.status === 429 || reply.status === 503) {
      refusals += 1
      if (refusals >= MAX_REFUSALS) {
        fail(
          `GET ${url}/${jobId}: ${reply.status} ${refusals} times in a row; giving up (the job goes on)`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, pollDelaySeconds(reply) * 1000))
      continue
    }
    refusals = 0
    if (reply.status !== 200 || !job) {
      fail(`GET ${url}/${jobId}: ${reply.status} ${JSON.stringify(reply.body)}`)
    }
    const line = renderProgress(job)
    if (line !== last) {
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`)
      last = line
    }
    if (FINAL.has(job.status)) {
      process.stderr.write(tty ? '\n' : '')
      return job
    }
    await new Promise((resolve) => setTimeout(resolve, pollDelaySeconds(reply) * 1000))
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      days: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      projects: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  const [command, ...rest] = positionals
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const base = (
    values.url ??
    process.env.AGENT_PM_URL ??
    'http://127.0.0.1:3000/api/v1/web/local'
  ).replace(/\/+$/, '')
  const key = adminKey(values.key)
  const source = command === 'watch' ? rest[0] : command
  if (source !== 'jira' && source !== 'tempo') {
    fail(USAGE)
  }
  const url = `${base}/v1/backfill-${source}`

  let jobId = rest[command === 'watch' ? 1 : 0]
  if (command !== 'watch') {
    const input: Record<string, unknown> = {}
    for (const name of ['from', 'to'] as const) {
      if (values[name]) {
        input[name] = values[name]
      }
    }
    if (values.days) {
      input.days = Number(values.days)
    }
    if (values.projects) {
      input.projects = values.projects.split(',').map((project) => project.trim())
    }
    const { status, body } = await call(url, key, { method: 'POST', body: JSON.stringify(input) })
    if (status === 409) {
      process.stderr.write(`A ${source} backfill is already active; following it.\n`)
      jobId = body?.error?.details?.job?.id
    } else if (status !== 202 || !body?.job) {
      fail(`POST ${url}: ${status} ${JSON.stringify(body)}`)
    } else {
      jobId = body.job.id
      process.stderr.write(`started ${source} backfill ${jobId}\n`)
    }
  }
  if (!jobId) {
    fail(USAGE)
  }
  process.on('SIGINT', () => {
    process.stderr.write(
      `\nstopped watching; the job goes on. Cancel: curl -XDELETE ${url}/${jobId} -H 'x-admin-key: …'\n`,
    )
    process.exit(130)
  })
  const job = await watch(url, key, jobId)
  if (job.progress.lastError) {
    process.stderr.write(`last error: ${job.progress.lastError}\n`)
  }
  process.exit(job.status === 'succeeded' ? 0 : 1)
}

main().catch((err: unknown) =>
  fail(`backfill: ${err instanceof Error ? err.message : String(err)}`),
)
