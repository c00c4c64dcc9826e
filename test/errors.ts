import { assert } from 'vitest'
import { AppError } from '#core/errors.ts'

/** The `AppError` the promise rejects with; fails the test if it resolves or throws anything else. */
export async function thrownAppError(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (error: unknown) => error,
  )
  assert(err instanceof AppError, `expected an AppError, got ${String(err)}`)
  return err
}
