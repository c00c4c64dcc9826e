// The built-in sandbox of `npm start`: the same fake Jira, Tempo, Pinecone and Google servers the
// tests use, seeded with a sample organisation, for whichever upstream the environment leaves unset.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startFakeGoogle } from '#sandbox/fakes/google.ts'
import { startFakeJira } from '#sandbox/fakes/jira.ts'
import { sampleOrganisation } from '#sandbox/fakes/jira-data.ts'
import { startFakePinecone } from '#sandbox/fakes/pinecone.ts'
import { startFakeTempo } from '#sandbox/fakes/tempo.ts'
import { sampleWorklogs } from '#sandbox/fakes/tempo-data.ts'
import { startUpstashBridge } from './upstash-bridge.ts'

export type Sandbox = {
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>
  banner(say: (line?: string) => void, origin: string): void
}

// Fixed ports keep the sandbox's URLs (and the Jira links stored in Pinecone) the same every start;
// SANDBOX_PORT_BASE moves them, and 0 takes free ones (for tests of the local server).
function sandboxPorts() {
  const base = Number(process.env.SANDBOX_PORT_BASE ?? 3101)
  const port = (offset: number) => (base === 0 ? 0 : base + offset)
  return { jira: port(0), tempo: port(1), pinecone: port(2), google: port(3) }
}
const SEED = 20_260_101

function dateOnly(date: Date): string {
  return date.toISOString().slice(0, 10)
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    chunks.push(chunk as Buffer)
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** Starts the fakes the environment needs and points the functions at them (via process.env). */
export async function startSandbox(notes: string[]): Promise<Sandbox | undefined> {
  const env = process.env
  const ports = sandboxPorts()
  const lines: string[] = []
  let mint: ((email: string, name: string) => Promise<string>) | undefined
  // The sample data is anchored at the start of today (UTC): the same on every start that day.
  const today = new Date(`${dateOnly(new Date())}T00:00:00.000Z`)

  if (env.REDIS_URL && !env.UPSTASH_REDIS_REST_URL) {
    const token = 'local-bridge-token'
    const bridge = await startUpstashBridge({ redisUrl: env.REDIS_URL, token })
    env.UPSTASH_REDIS_REST_URL = bridge.url
    env.UPSTASH_REDIS_REST_TOKEN = token
    notes.push(`rate limits: Redis at REDIS_URL through the Upstash bridge ${bridge.url}`)
  }

  const org = sampleOrganisation({ seed: SEED, projects: 4, issues: 3000, users: 24, now: today })
  if (!env.JIRA_BASE_URL) {
    const jira = await startFakeJira({ port: ports.jira, now: today })
    jira.setIssues(org.issues)
    // Every sample person, not only assignees and reporters: Tempo worklogs name them all.
    jira.setUsers(org.users)
    env.JIRA_BASE_URL = jira.url
    env.JIRA_EMAIL = 'fake@example.com'
    env.JIRA_API_TOKEN = 'fake-jira-token'
    lines.push(
      `  Jira      ${jira.url}  (${org.projects.length} projects, ${org.issues.length} issues)`,
    )
  }
  if (!env.TEMPO_API_TOKEN) {
    const tempo = await startFakeTempo({ port: ports.tempo, jiraBaseUrl: env.JIRA_BASE_URL })
    tempo.setNow(today)
    const from = new Date(today.getTime() - 400 * 86_400_000)
    tempo.setWorklogs(
      sampleWorklogs({
        seed: SEED,
        count: 4000,
        issues: org.issues.map((issue) => ({ id: issue.id, projectId: issue.fields.project.id })),
        accountIds: org.users.map((user) => user.accountId),
        from: dateOnly(from),
        to: dateOnly(today),
      }),
    )
    env.TEMPO_BASE_URL = tempo.url
    env.TEMPO_API_TOKEN = 'fake-tempo-token'
    lines.push(`  Tempo     ${tempo.url}  (4000 worklogs over 400 days)`)
  }
  if (!env.PINECONE_API_KEY) {
    const pinecone = await startFakePinecone({ port: ports.pinecone })
    env.PINECONE_API_KEY = 'fake-pinecone-key'
    env.PINECONE_INDEX_HOST = pinecone.url
    env.PINECONE_CONTROLLER_URL = pinecone.url
    lines.push(`  Pinecone  ${pinecone.url}  (index and inference, in memory)`)
  }
  if (!env.GOOGLE_CLIENT_ID) {
    const google = await startFakeGoogle({ port: ports.google })
    env.GOOGLE_CLIENT_ID = google.clientId
    env.GOOGLE_JWKS_URL = google.jwksUrl
    env.ALLOWED_EMAIL_DOMAINS ||= 'example.com'
    env.ADMIN_EMAILS ||= 'admin@example.com'
    mint = (email, name) =>
      google.mintIdToken({ email, name, sub: `sandbox-${email}`, hd: email.split('@')[1] })
    lines.push(`  Google    ${google.jwksUrl}  (sign-in keys)`)
  }
  if (lines.length === 0) {
    return undefined
  }
  notes.push(
    'upstreams: the built-in sandbox for what the environment leaves unset (fake servers below)',
  )

  return {
    async handle(req, res, url) {
      if (url.pathname !== '/sandbox/google-token' || !mint) {
        return false
      }
      if (req.method !== 'POST') {
        res.writeHead(405, { 'content-type': 'application/json', allow: 'POST' })
        res.end(JSON.stringify({ error: 'POST {"email": "…@example.com"}' }))
        return true
      }
      const body = await readJson(req)
      const email = typeof body.email === 'string' ? body.email : 'admin@example.com'
      const name =
        typeof body.name === 'string' ? body.name : (email.split('@')[0] ?? 'Sandbox user')
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ credential: await mint(email, name) }))
      return true
    },
    banner(say, origin) {
      say()
      say('sandbox (fake upstreams on 127.0.0.1, seeded with a sample organisation):')
      for (const line of lines) {
        say(line)
      }
      if (mint) {
        say(
          `  sign in: curl -s -XPOST ${origin}/sandbox/google-token -d '{"email":"admin@example.com"}'`,
        )
        say('           then POST {"credential": …} to v1/login')
      }
    },
  }
}
