import { describe, expect, it, vi } from 'vitest'
import { AppError } from '#core/errors.ts'
import {
  capMessage,
  failureOfStatus,
  failureToError,
  failureToStep,
  type UpstreamFailure,
  type UpstreamResult,
  withRetries,
} from './failure.ts'

const failure = (reason: UpstreamFailure['reason'], extra: Partial<UpstreamFailure> = {}) =>
  ({ ok: false, reason, message: `It failed: ${reason}.`, ...extra }) as const

/** A call that answers each result in turn, then keeps answering the last. */
function scripted(...results: UpstreamResult<string>[]) {
  return vi.fn(
    async () => (results.length > 1 ? results.shift() : results[0]) ?? failure('network'),
  )
}

const quick = { attempts: 2, baseDelayMs: 1, maxWaitMs: 1000 }

describe('upstream failures', () => {
  describe('happy', () => {
    it('retries a transient failure until the call succeeds', async () => {
      const call = scripted(failure('unavailable'), failure('invalid-response'), {
        ok: true,
        value: 'page',
      })
      expect(await withRetries(call, quick)).toEqual({ ok: true, value: 'page' })
      expect(call).toHaveBeenCalledTimes(3)
    })

    it('turns a transient failure into a retry step with the upstream’s wait', () => {
      expect(failureToStep(failure('rate-limited', { retryAfterMs: 4000 }), 'tempo')).toEqual({
        kind: 'retry',
        reason: 'tempo-rate-limited',
        retryAfterMs: 4000,
      })
      expect(failureToStep(failure('timeout'), 'jira')).toEqual({
        kind: 'retry',
        reason: 'jira-timeout',
      })
    })
  })

  describe('statuses', () => {
    it('maps every HTTP error status to one reason, keeping a wait only for transient ones', () => {
      const reasons = new Map<number, UpstreamFailure['reason']>([
        [400, 'bad-request'],
        [401, 'unauthorized'],
        [402, 'bad-request'],
        [403, 'forbidden'],
        [404, 'not-found'],
        [409, 'bad-request'],
        [428, 'bad-request'],
        [429, 'rate-limited'],
        [430, 'bad-request'],
        [499, 'bad-request'],
        [500, 'unavailable'],
        [503, 'unavailable'],
        [599, 'unavailable'],
      ])
      for (const [status, reason] of reasons) {
        const failed = failureOfStatus(status, (r) => `Upstream: ${r}.`, 1500)
        const transient = reason === 'rate-limited' || reason === 'unavailable'
        expect(failed, String(status)).toEqual({
          ok: false,
          reason,
          status,
          message: `Upstream: ${reason}.`,
          ...(transient && { retryAfterMs: 1500 }),
        })
      }
    })
  })

  describe('errors', () => {
    it('gives up after its attempts, at once for what a person must fix, and on a long wait', async () => {
      const down = scripted(failure('unavailable'))
      expect(await withRetries(down, quick)).toMatchObject({ reason: 'unavailable' })
      expect(down).toHaveBeenCalledTimes(3)
      const refused = scripted(failure('unauthorized'))
      expect(await withRetries(refused, quick)).toMatchObject({ reason: 'unauthorized' })
      expect(refused).toHaveBeenCalledTimes(1)
      const slow = scripted(failure('rate-limited', { retryAfterMs: 30_000 }))
      expect(await withRetries(slow, quick)).toMatchObject({ retryAfterMs: 30_000 })
      expect(slow).toHaveBeenCalledTimes(1)
    })

    it('returns the last failure when its signal aborts during a wait', async () => {
      const call = scripted(failure('unavailable'))
      const result = await withRetries(
        call,
        { attempts: 5, baseDelayMs: 800, maxWaitMs: 5000 },
        AbortSignal.timeout(50),
      )
      expect(result).toMatchObject({ reason: 'unavailable' })
      // A wait that ran its course would have called again before seeing the abort.
      expect(call).toHaveBeenCalledTimes(1)
    })

    it('fails a step for good on a failure a person must fix, and rethrows the engine’s stop', () => {
      for (const reason of [
        'unauthorized',
        'forbidden',
        'bad-request',
        'dimension-mismatch',
      ] as const) {
        let thrown: unknown
        try {
          failureToStep(failure(reason), 'pinecone')
        } catch (err) {
          thrown = err
        }
        expect(thrown, reason).toBeInstanceOf(AppError)
        expect(thrown).toMatchObject({
          code: 'UPSTREAM_FAILED',
          retryable: false,
          message: `It failed: ${reason}.`,
        })
      }
      const stop = new Error('chunk stopped: time')
      expect(() => failureToStep(failure('timeout'), 'jira', AbortSignal.abort(stop))).toThrow(stop)
    })

    it('ends a request with 503 for a transient failure and 502 otherwise', () => {
      expect(failureToError(failure('network'), 'list the Jira projects')).toMatchObject({
        code: 'UNAVAILABLE',
        retryable: true,
        message: 'Could not list the Jira projects: It failed: network.',
      })
      expect(failureToError(failure('forbidden'), 'list the Jira projects')).toMatchObject({
        code: 'UPSTREAM_FAILED',
        retryable: false,
      })
    })

    it('caps an upstream’s text to one line of 300 characters', () => {
      expect(capMessage('a\n  b')).toBe('a b')
      const long = capMessage('x'.repeat(400))
      expect(long).toHaveLength(300)
      expect(long.endsWith('…')).toBe(true)
    })
  })
})
