import { once } from 'node:events'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { failureFromLog } from './embedded-postgres.ts'
import { choosePort, isPortFree } from './ports.ts'

describe('choosePort', () => {
  it('keeps the preferred port when free, and takes another when something listens on it', async () => {
    const taken = createServer().listen(0, '127.0.0.1')
    await once(taken, 'listening')
    const port = (taken.address() as { port: number }).port
    try {
      expect(await isPortFree(port)).toBe(false)
      const chosen = await choosePort(port)
      expect(chosen).not.toBe(port)
      expect(await isPortFree(chosen)).toBe(true)
    } finally {
      taken.close()
    }
    await once(taken, 'close')
    expect(await choosePort(port)).toBe(port)
  })
})

describe('failureFromLog', () => {
  it("says why PostgreSQL stopped, from its own log lines (the package's rejection has no reason)", () => {
    const log = [
      'syncing data to disk ... ok\n',
      '2026-12-03 10:04:39.827 UTC [22397] LOG:  starting PostgreSQL 17.10\n' +
        '2026-12-03 10:04:39.827 UTC [22397] LOG:  could not bind IPv4 address "127.0.0.1": Address already in use\n' +
        '2026-12-03 10:04:39.827 UTC [22397] HINT:  Is another postmaster already running on port 54329?\n' +
        '2026-12-03 10:04:39.827 UTC [22397] FATAL:  could not create any TCP/IP sockets\n',
      '2026-12-03 10:04:39.828 UTC [22397] LOG:  database system is shut down\n',
    ]
    expect(failureFromLog(log)).toBe(
      'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use; ' +
        'HINT:  Is another postmaster already running on port 54329?; ' +
        'FATAL:  could not create any TCP/IP sockets',
    )
  })

  it('names a data directory another server holds', () => {
    const log = [
      '2026-12-03 10:05:00.000 UTC [1] FATAL:  lock file "postmaster.pid" already exists\n',
    ]
    expect(failureFromLog(log)).toBe('FATAL:  lock file "postmaster.pid" already exists')
    expect(failureFromLog([])).toBe('PostgreSQL exited without saying why')
  })
})
