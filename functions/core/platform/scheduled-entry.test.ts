import { describe, expect, it, vi } from 'vitest'
import { AppError } from '#core/errors.ts'
import { testConfig } from '#test/config.ts'
import { aContext } from '#test/events.ts'
import { captureLog } from '#test/log.ts'
import { scheduledEntry } from './scheduled-entry.ts'

describe('scheduled entry', () => {
  describe('happy', () => {
    it('runs the handler with the trigger body and returns and logs its summary', async () => {
      const { log, lines } = captureLog()
      const handler = vi.fn(async (event: Readonly<Record<string, unknown>>) => ({
        saw: event.trigger,
      }))
      const main = scheduledEntry({
        name: 'jobs/test',
        services: () => ({ log }),
        handler: () => handler,
      })
      const context = aContext()
      const result = await main({ trigger: 'test' }, context)
      expect(result).toEqual({ ok: true, function: 'jobs/test', saw: 'test' })
      expect(handler).toHaveBeenCalledWith({ trigger: 'test' }, context)
      expect(lines).toContainEqual(
        expect.objectContaining({ msg: 'scheduled run', function: 'jobs/test', saw: 'test' }),
      )
    })

    it('builds the services once per warm container', async () => {
      const services = vi.fn(() => ({ log: captureLog().log }))
      const main = scheduledEntry({ name: 'jobs/test', services, handler: () => async () => ({}) })
      await main({}, aContext())
      await main(undefined, aContext())
      expect(services).toHaveBeenCalledTimes(1)
    })
  })

  describe('errors', () => {
    it('returns a failure result instead of throwing, and logs the error once', async () => {
      const { log, lines } = captureLog()
      const main = scheduledEntry({
        name: 'jobs/test',
        services: () => ({ log }),
        handler: () => async () => {
          throw new AppError('UPSTREAM_FAILED', 'Jira is down.')
        },
      })
      const result = await main({}, { activationId: 'act-1' })
      expect(result).toEqual({
        ok: false,
        function: 'jobs/test',
        error: 'AppError',
        activationId: 'act-1',
      })
      expect(lines.filter((line) => line.msg === 'scheduled run failed')).toHaveLength(1)
    })

    it('names a bad variable, never its value, when the configuration is invalid', async () => {
      const { log, text } = captureLog()
      const main = scheduledEntry({
        name: 'jobs/test',
        services: () => ({
          log: captureLog().log,
          config: testConfig({ JWT_SECRET_KEY: 'short' }),
        }),
        handler: () => async () => ({}),
        fallbackLog: log,
      })
      const result = await main({}, aContext())
      expect(result).toMatchObject({ ok: false, error: 'ConfigError' })
      expect(text()).toContain('JWT_SECRET_KEY')
      expect(text()).not.toContain('short')
    })
  })
})
