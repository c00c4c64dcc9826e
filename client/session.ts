// The signed-in session: where its token lives, and its renewal shortly before it expires.
import { type ApiResult, notSignedIn } from './errors.ts'
import type { Send } from './transport.ts'
import type { Session } from './types.ts'

/** Where the session is kept: memory by default; a page may keep it in sessionStorage. */
export type SessionStore = { get(): Session | null; set(session: Session | null): void }

/** A store in memory (gone with the page or the process). */
export function memorySession(initial: Session | null = null): SessionStore {
  let current = initial
  return {
    get: () => current,
    set: (session) => {
      current = session
    },
  }
}

/** Renew when less than this is left of the token (default 5 minutes). */
export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000

/**
 * Keeps the session's token fresh: before a call, a token with less than `marginMs` left is
 * swapped for a new one (`POST v1/login/refresh`), once however many calls ask at the same time.
 * A refused renewal keeps the current token while it lasts: a 429 or 503 is tried again after its
 * `Retry-After`, a 401 (the session is too old to renew) not at all.
 */
export function createSessionKeeper(deps: {
  send: Send
  store: SessionStore
  now: () => number
  marginMs: number
  onChange?: ((session: Session | null) => void) | undefined
}) {
  let inFlight: Promise<ApiResult<Session>> | undefined
  // No renewal attempt before this time (epoch ms), and none at all for this token.
  let notBefore = 0
  let refusedToken: string | undefined

  function set(session: Session | null) {
    deps.store.set(session)
    deps.onChange?.(session)
  }

  async function refresh(): Promise<ApiResult<Session>> {
    const session = deps.store.get()
    if (!session) {
      return { ok: false, error: notSignedIn() }
    }
    inFlight ??= deps
      .send<Session>({
        method: 'POST',
        path: 'v1/login/refresh',
        headers: { authorization: `Bearer ${session.token}` },
      })
      .then((result) => {
        if (result.ok) {
          set(result.value)
        } else if (result.error.status === 401) {
          refusedToken = session.token
        } else {
          notBefore = deps.now() + (result.error.retryAfterSeconds ?? 30) * 1000
        }
        return result
      })
      .finally(() => {
        inFlight = undefined
      })
    return inFlight
  }

  return {
    /** The current session, if any. */
    current: () => deps.store.get(),
    /** Stores a new session (after a sign-in). */
    set,
    /** Forgets the session (after a sign-out, or when the server no longer accepts its token). */
    clear: () => set(null),
    /** Renews now. */
    refresh,
    /** The bearer token for a call, renewed first when it is about to expire. */
    async token(): Promise<string | null> {
      const session = deps.store.get()
      if (!session) {
        return null
      }
      const left = Date.parse(session.expiresAt) - deps.now()
      const due = left < deps.marginMs && left > 0
      if (due && session.token !== refusedToken && deps.now() >= notBefore) {
        await refresh()
      }
      return deps.store.get()?.token ?? null
    },
  }
}

export type SessionKeeper = ReturnType<typeof createSessionKeeper>
