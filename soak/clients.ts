// The soak's clients: typed API clients (client/api.ts) for several principals — admin keys
// and signed-in admins — over one counting fetch, which tallies every answer by status and
// keeps the 5xx ones for the report.
import { type ApiClient, createApiClient } from '#client/api.ts'
import type { FakeGoogle } from '#sandbox/fakes/google.ts'

/** An answer ≥ 500: when it was asked and answered, what, and the error it carried. */
export type ServerError = {
  startedAt: string
  at: string
  method: string
  path: string
  status: number
  code: string
  message: string
}

export type AnswerLog = {
  requests: number
  byStatus: Record<string, number>
  networkErrors: number
  serverErrors: ServerError[]
}

/** A fetch that counts what it sends and what comes back. */
export function countingFetch(log: AnswerLog): typeof fetch {
  return async (input, init) => {
    log.requests += 1
    const url = new URL(input instanceof Request ? input.url : String(input))
    const method = init?.method ?? 'GET'
    const startedAt = new Date().toISOString()
    try {
      const res = await fetch(input, init)
      log.byStatus[res.status] = (log.byStatus[res.status] ?? 0) + 1
      if (res.status >= 500) {
        const text = await res.clone().text()
        const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1] ?? 'none'
        const message = /"message"\s*:\s*"([^"]{0,200})/.exec(text)?.[1] ?? ''
        log.serverErrors.push({
          startedAt,
          at: new Date().toISOString(),
          message,
          method,
          path: url.pathname.replace(/^\/api\/v1\/web\/[^/]+/, ''),
          status: res.status,
          code,
        })
      }
      return res
    } catch (err) {
      log.networkErrors += 1
      throw err
    }
  }
}

/** A client and who it acts as. */
export type Actor = { name: string; api: ApiClient }

/**
 * The chaos clients: one with the admin key, and admins signed in through the fake Google.
 * @throws when a sign-in fails (the soak cannot run without its principals)
 */
export async function createActors(options: {
  base: string
  adminKeys: readonly string[]
  google: FakeGoogle
  emails: readonly string[]
  log: AnswerLog
}): Promise<Actor[]> {
  const fetch = countingFetch(options.log)
  const actors: Actor[] = options.adminKeys.map((adminKey, n) => ({
    name: `admin key ${n + 1}`,
    api: createApiClient({ baseUrl: options.base, adminKey, fetch }),
  }))
  for (const email of options.emails) {
    const api = createApiClient({ baseUrl: options.base, fetch })
    const credential = await options.google.mintIdToken({
      email,
      name: email.split('@')[0],
      sub: `soak-${email}`,
      hd: email.split('@')[1],
    })
    const signedIn = await api.signIn(credential)
    if (!signedIn.ok) {
      throw new Error(
        `signing in ${email} failed: ${signedIn.error.code} ${signedIn.error.message}`,
      )
    }
    actors.push({ name: email, api })
  }
  return actors
}
