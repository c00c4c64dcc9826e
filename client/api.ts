// The typed client of the functions for front ends and scripts (README, "The API contract and
// the client"). Runs in browsers and in Node: fetch only, no Node module; its types come from the
// functions.
import { type ApiResult, notSignedIn } from './errors.ts'
import { type FollowOptions, followJob } from './follow.ts'
import {
  createSessionKeeper,
  DEFAULT_REFRESH_MARGIN_MS,
  memorySession,
  type SessionStore,
} from './session.ts'
import { type Call, createTransport } from './transport.ts'
import type {
  JiraBackfillStart,
  JobAccepted,
  JobShown,
  JobView,
  Session,
  TempoBackfillStart,
  UserView,
} from './types.ts'

export type ApiClientOptions = {
  /** `https://<host>/api/v1/web/<namespace>`, or `http://127.0.0.1:3000/api/v1/web/local`. */
  baseUrl: string
  /** Sends `X-Admin-Key` on admin calls instead of the session's token (scripts, never pages). */
  adminKey?: string
  /** Where the session lives (default: memory). */
  session?: SessionStore
  /** Told when the session changes: signed in, renewed, signed out or ended by the server. */
  onSessionChange?: (session: Session | null) => void
  /** Renew the token when less than this is left (default 5 minutes). */
  refreshMarginMs?: number
  fetch?: typeof fetch
  now?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

/** Waits `ms`, or less when `signal` aborts (it never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve()
      return
    }
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done)
  })
}

// A long poll holds its request up to `waitSeconds`; allow that plus the rest of the call.
const CALL_MS = 15_000

/**
 * The API's calls, each answering `{ ok: true, value, meta }` or `{ ok: false, error }`.
 * @example
 * const api = createApiClient({ baseUrl: 'https://…/api/v1/web/fn-…' })
 * const signedIn = await api.signIn(googleCredential)
 * const started = await api.backfills.jira.start({ days: 30 })
 * if (started.ok) await api.backfills.jira.follow(started.value.job.id, { onUpdate: render })
 */
export function createApiClient(options: ApiClientOptions) {
  const now = options.now ?? (() => Date.now())
  const wait = options.sleep ?? sleep
  const send = createTransport({
    baseUrl: options.baseUrl,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    now,
  })
  const session = createSessionKeeper({
    send,
    store: options.session ?? memorySession(),
    now,
    marginMs: options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS,
    onChange: options.onSessionChange,
  })

  /** A call as the signed-in user; a 401 means the token no longer works: the session ends. */
  async function asUser<T>(call: Call): Promise<ApiResult<T>> {
    const token = await session.token()
    if (!token) {
      return { ok: false, error: notSignedIn() }
    }
    const result = await send<T>({ ...call, headers: { authorization: `Bearer ${token}` } })
    if (
      !result.ok &&
      result.error.code === 'UNAUTHENTICATED' &&
      session.current()?.token === token
    ) {
      session.clear()
    }
    return result
  }

  /** A call an admin makes: with the admin key when the client has one, else as the user. */
  function asAdmin<T>(call: Call): Promise<ApiResult<T>> {
    return options.adminKey
      ? send<T>({ ...call, headers: { 'x-admin-key': options.adminKey } })
      : asUser<T>(call)
  }

  function backfills<Start>(source: 'jira' | 'tempo') {
    const base = `v1/backfill-${source}`
    const jobPath = (jobId: string) => `${base}/${encodeURIComponent(jobId)}`
    const get = (
      jobId: string,
      query: { waitSeconds?: number; since?: string; signal?: AbortSignal } = {},
    ) =>
      asAdmin<JobShown>({
        method: 'GET',
        path: jobPath(jobId),
        query: { waitSeconds: query.waitSeconds || undefined, since: query.since },
        timeoutMs: (query.waitSeconds ?? 0) * 1000 + CALL_MS,
        signal: query.signal,
      })
    return {
      /** Queues a backfill (202); 409 `CONFLICT` carries the active one in `details.job`. */
      start: (input: Start) => asAdmin<JobAccepted>({ method: 'POST', path: base, body: input }),
      /** The most recent jobs, newest first (`limit` 1–100, default 20). */
      list: async (query: { limit?: number } = {}): Promise<ApiResult<JobView[]>> => {
        const result = await asAdmin<{ jobs: JobView[] }>({ method: 'GET', path: base, query })
        return result.ok ? { ...result, value: result.value.jobs } : result
      },
      /** A job and its version; with `waitSeconds` (0–20), once it differs from `since`. */
      get,
      /** Requests a cooperative cancel (202); 409 when it has already finished. */
      cancel: (jobId: string) => asAdmin<JobAccepted>({ method: 'DELETE', path: jobPath(jobId) }),
      /** Resumes a failed or cancelled job from its cursors (202). */
      resume: (jobId: string) =>
        asAdmin<JobAccepted>({ method: 'POST', path: `${jobPath(jobId)}/resume` }),
      /** Follows a job to its end (see client/follow.ts): its final view, or what stopped it. */
      follow: (jobId: string, follow: FollowOptions = {}) =>
        followJob({ get: (query) => get(jobId, query), now, sleep: wait }, follow),
    }
  }

  return {
    /** Signs in with a Google ID token (Google Identity Services' `credential`) and keeps the session. */
    async signIn(credential: string, signIn: { rememberMe?: boolean } = {}) {
      const result = await send<Session>({
        method: 'POST',
        path: 'v1/login',
        body: { credential, ...signIn },
      })
      if (result.ok) {
        session.set(result.value)
      }
      return result
    },
    /** Renews the session now (calls renew it anyway shortly before it expires). */
    refresh: () => session.refresh(),
    /** The signed-in user, as the server sees them now. */
    async me(): Promise<ApiResult<UserView>> {
      const result = await asUser<{ user: UserView }>({ method: 'GET', path: 'v1/login' })
      return result.ok ? { ...result, value: result.value.user } : result
    },
    /** Signs out everywhere (every token of the user stops working) and forgets the session. */
    async signOut(): Promise<ApiResult<undefined>> {
      const result = await asUser<undefined>({ method: 'DELETE', path: 'v1/login' })
      session.clear()
      return result
    },
    /** The current session (null when signed out). */
    session: () => session.current(),
    backfills: {
      jira: backfills<JiraBackfillStart>('jira'),
      tempo: backfills<TempoBackfillStart>('tempo'),
    },
  }
}

/** The client `createApiClient` builds. */
export type ApiClient = ReturnType<typeof createApiClient>
