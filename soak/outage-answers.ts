// Which of the 5xx answers the soak's clients saw are the functions' designed answers to an outage
// the soak made (README, "Reliability"): a 503 `UNAVAILABLE` while PostgreSQL was down (or just
// back, as the grace of each window allows), or one that a start gave while an injected fault
// failed an upstream under it. Anything else — a 500, a 503 of the rate limiter failing closed (the
// soak never stops Redis), an upstream 503 with no fault in its time — counts against the target.
import { CONNECTION_LOSS_MESSAGE } from '#core/errors.ts'
import { LIMITER_UNAVAILABLE_MESSAGE } from '#core/rate-limit/rules.ts'
import type { ServerError } from './clients.ts'

/** What the soak recorded: PostgreSQL's outage windows, and each fault it injected (epoch ms). */
export type Outages = {
  restarts: ReadonlyArray<{ from: number; to: number }>
  faults: ReadonlyArray<{ at: number; upstream: string }>
}

export type Classified = {
  duringRestart: ServerError[]
  duringUpstreamFault: ServerError[]
  unexplained: ServerError[]
}

export function classifyServerErrors(errors: readonly ServerError[], outages: Outages): Classified {
  const classified: Classified = { duringRestart: [], duringUpstreamFault: [], unexplained: [] }
  for (const error of errors) {
    const answered = Date.parse(error.at)
    const sent = Date.parse(error.startedAt)
    const unavailable = error.status === 503 && error.code === 'UNAVAILABLE'
    const inRestart = outages.restarts.some((w) => answered >= w.from && answered <= w.to)
    const faultUnder = outages.faults.some((f) => f.at >= sent && f.at <= answered)
    if (unavailable && inRestart) {
      classified.duringRestart.push(error)
    } else if (
      unavailable &&
      faultUnder &&
      error.message !== CONNECTION_LOSS_MESSAGE &&
      error.message !== LIMITER_UNAVAILABLE_MESSAGE
    ) {
      classified.duringUpstreamFault.push(error)
    } else {
      classified.unexplained.push(error)
    }
  }
  return classified
}
