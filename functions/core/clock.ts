/** The time source; tests pass a fixed clock so expiry and windows are exact. */
export type Clock = { now(): Date }

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() }
