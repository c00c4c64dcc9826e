// What `npm run backfill -- …` does, through the typed client (client/api.ts): parsing its
// arguments and running one command. scripts/backfill.ts wires it to the process.
import { parseArgs } from 'node:util'
import type { ApiClient } from '#client/api.ts'
import type { ApiError, ApiResult } from '#client/errors.ts'
import type { JobView } from '#client/types.ts'
import { renderJobRow, renderProgress } from './progress-bar.ts'

export const USAGE = `usage:
  npm run backfill -- jira  [--days N] [--projects A,B]
  npm run backfill -- tempo [--days N | --from YYYY-MM-DD --to YYYY-MM-DD] [--projects A,B]
  npm run backfill -- watch  jira|tempo <jobId>     follow a job to its end
  npm run backfill -- jobs   jira|tempo [--limit N] the most recent jobs
  npm run backfill -- cancel jira|tempo <jobId>     cancel, then follow until it stops
  npm run backfill -- resume jira|tempo <jobId>     resume a failed or cancelled job, and follow it
options: --url <base> (default $AGENT_PM_URL or http://127.0.0.1:3000/api/v1/web/local)
         --key <admin key> (default $ADMIN_KEY, or the local server's development key)`

type Source = 'jira' | 'tempo'

/** A parsed command line. */
export type Command =
  | { kind: 'help' }
  | { kind: 'start'; source: Source; input: Record<string, unknown> }
  | { kind: 'watch' | 'cancel' | 'resume'; source: Source; jobId: string }
  | { kind: 'jobs'; source: Source; limit?: number }

/** Where the command writes: progress and messages to `err`, results to `out`. */
export type Output = {
  out: (text: string) => void
  err: (text: string) => void
  tty: boolean
  /** Told which job is being followed (so an interrupt can name it). */
  following?: (jobId: string) => void
}

const isSource = (value: unknown): value is Source => value === 'jira' || value === 'tempo'

/**
 * The command, the base URL and the admin key the arguments name (the key and URL may be left to
 * the environment), or a message saying what is wrong.
 */
export function parseCommand(
  args: string[],
): { command: Command; url?: string; key?: string } | { error: string } {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(args)
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) }
  }
  const { values, positionals } = parsed
  const [first, second, third] = positionals
  const where = { ...(values.url && { url: values.url }), ...(values.key && { key: values.key }) }
  if (values.help || !first) {
    return { command: { kind: 'help' } }
  }
  if (isSource(first)) {
    const input: Record<string, unknown> = {}
    for (const name of ['from', 'to'] as const) {
      if (values[name]) {
        input[name] = values[name]
      }
    }
    // Sent as the text typed: the function validates it and names what is wrong.
    if (values.days) {
      input.days = /^\d+$/.test(values.days) ? Number(values.days) : values.days
    }
    if (values.projects) {
      input.projects = values.projects.split(',').map((project) => project.trim())
    }
    return { command: { kind: 'start', source: first, input }, ...where }
  }
  if (!isSource(second)) {
    return { error: `${first}: name jira or tempo.` }
  }
  if (first === 'jobs') {
    const limit = values.limit === undefined ? undefined : Number(values.limit)
    return { command: { kind: 'jobs', source: second, ...(limit && { limit }) }, ...where }
  }
  if (first === 'watch' || first === 'cancel' || first === 'resume') {
    return third
      ? { command: { kind: first, source: second, jobId: third }, ...where }
      : { error: `${first}: name the job id.` }
  }
  return { error: `unknown command: ${first}` }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      days: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      projects: { type: 'string' },
      limit: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
}

/** An error as one line (and the input issues, one a line), with the request id to quote. */
export function describeError(error: ApiError): string {
  const where = error.requestId ? ` [request ${error.requestId}]` : ''
  const head = `${error.code}${error.status ? ` (${error.status})` : ''}: ${error.message}${where}`
  const issues =
    error.code === 'BAD_REQUEST'
      ? (error.details.issues ?? []).map((issue) => `\n  ${issue.path || 'body'}: ${issue.message}`)
      : []
  return head + issues.join('')
}

/**
 * Exit codes: 0 the job ended as asked (succeeded; cancelled for `cancel`) or the command did its
 * work, 1 the job ended otherwise, 2 an error (nothing done, or following stopped).
 */
export const EXIT = { ok: 0, otherEnd: 1, error: 2 } as const

/** Draws the job's progress until it ends; the exit code says whether it ended as `wanted`. */
async function follow(
  api: ApiClient,
  where: { source: Source; jobId: string; wanted?: JobView['status'] },
  io: Output,
  signal?: AbortSignal,
): Promise<number> {
  const { source, jobId, wanted = 'succeeded' } = where
  io.following?.(jobId)
  let last = ''
  const result = await api.backfills[source].follow(jobId, {
    ...(signal && { signal }),
    onUpdate: (job) => {
      const line = renderProgress(job)
      if (line !== last) {
        io.err(io.tty ? `\r\x1b[2K${line}` : `${line}\n`)
        last = line
      }
    },
    onWait: ({ seconds, error }) =>
      io.err(`${io.tty ? '\n' : ''}${error.code}: asking again in ${seconds}s\n`),
  })
  io.err(io.tty && last ? '\n' : '')
  if (!result.ok) {
    io.err(`stopped following (the job goes on): ${describeError(result.error)}\n`)
    return EXIT.error
  }
  if (result.value.progress.lastError) {
    io.err(`last error: ${result.value.progress.lastError}\n`)
  }
  return result.value.status === wanted ? EXIT.ok : EXIT.otherEnd
}

function failed(io: Output, what: string, result: ApiResult<unknown>): number {
  if (!result.ok) {
    io.err(`${what}: ${describeError(result.error)}\n`)
  }
  return EXIT.error
}

/**
 * Runs one command; returns the exit code.
 * @example process.exitCode = await runCommand(command, createApiClient({ baseUrl, adminKey }), io)
 */
export async function runCommand(
  command: Command,
  api: ApiClient,
  io: Output,
  signal?: AbortSignal,
): Promise<number> {
  if (command.kind === 'help') {
    io.out(`${USAGE}\n`)
    return EXIT.ok
  }
  const backfills = api.backfills[command.source]
  switch (command.kind) {
    case 'start': {
      const started = await backfills.start(command.input)
      if (!started.ok && started.error.code === 'CONFLICT' && started.error.details.job) {
        const active: JobView = started.error.details.job
        io.err(`A ${command.source} backfill is already active (${active.id}); following it.\n`)
        return follow(api, { source: command.source, jobId: active.id }, io, signal)
      }
      if (!started.ok) {
        return failed(io, 'start', started)
      }
      io.err(`started ${command.source} backfill ${started.value.job.id}\n`)
      return follow(api, { source: command.source, jobId: started.value.job.id }, io, signal)
    }
    case 'watch':
      return follow(api, command, io, signal)
    case 'jobs': {
      const listed = await backfills.list(command.limit ? { limit: command.limit } : {})
      if (!listed.ok) {
        return failed(io, 'jobs', listed)
      }
      io.out(listed.value.map((job) => `${renderJobRow(job)}\n`).join(''))
      if (listed.value.length === 0) {
        io.err(`no ${command.source} backfills yet\n`)
      }
      return EXIT.ok
    }
    case 'cancel': {
      const cancelled = await backfills.cancel(command.jobId)
      if (!cancelled.ok) {
        return failed(io, 'cancel', cancelled)
      }
      io.err(`cancel requested for ${command.jobId}; running chunks stop at their next page\n`)
      return follow(api, { ...command, wanted: 'cancelled' }, io, signal)
    }
    case 'resume': {
      const resumed = await backfills.resume(command.jobId)
      if (!resumed.ok) {
        return failed(io, 'resume', resumed)
      }
      io.err(`resumed ${command.jobId}\n`)
      return follow(api, command, io, signal)
    }
  }
}
