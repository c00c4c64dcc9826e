import fc from 'fast-check'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { AppError } from '#core/errors.ts'
import { useTestDatabase } from '#test/database.ts'
import { captureLog } from '#test/log.ts'
import { isSecretKey } from './log.ts'

const getDatabase = useTestDatabase()

describe('createLogger', () => {
  it('redacts secrets at any depth', () => {
    const { log, text } = captureLog()
    log.info(
      {
        headers: { authorization: 'Bearer abc.def.ghi', 'x-admin-key': 'k-123' },
        body: { credential: 'google-id-token', nested: { apiKey: 'pc-key', token: 'tok' } },
      },
      'request',
    )
    const out = text()
    for (const secret of ['abc.def.ghi', 'k-123', 'google-id-token', 'pc-key', '"tok"']) {
      expect(out).not.toContain(secret)
    }
    expect(out).toContain('[redacted]')
  })

  it('redacts fields named like secrets in any case and spelling, five levels down and in lists', () => {
    const { log, lines, text } = captureLog()
    log.child({ Upstash: { Token: 'child-binding-token' } }).warn(
      {
        headers: { Authorization: 'Basic amlyYTpzZWNyZXQ', 'Api-Key': 'pinecone-key-1' },
        config: { JWT_SECRET_KEY: 'jwt-secret-1', jira: { API_TOKEN: 'jira-token-1' } },
        a: { b: { c: { d: { idToken: 'five-levels-down' } } } },
        calls: [{ request: { headers: { 'X-Admin-Key': 'admin-key-in-a-list' } } }],
        tokenVersion: 3,
        keyId: 'abc123',
      },
      'upstream call',
    )
    const out = text()
    for (const secret of [
      'child-binding-token',
      'amlyYTpzZWNyZXQ',
      'pinecone-key-1',
      'jwt-secret-1',
      'jira-token-1',
      'five-levels-down',
      'admin-key-in-a-list',
    ]) {
      expect(out).not.toContain(secret)
    }
    // What is not a secret stays readable.
    expect(lines[0]).toMatchObject({ tokenVersion: 3, keyId: 'abc123', msg: 'upstream call' })
    expect(lines[0]?.a).toEqual({ b: { c: { d: { idToken: '[redacted]' } } } })
  })

  it('never writes a value kept under a secret-named field, whatever the name, case or depth (property)', () => {
    const secretName = fc
      .tuple(
        fc.constantFrom('authorization', 'api-key', 'apiKey', 'x_admin_key', 'password', 'secret'),
        fc.constantFrom('', 'upstash', 'jira', 'x-'),
        fc.boolean(),
      )
      .map(([name, prefix, upper]) => {
        const key = `${prefix}${name}`
        return upper ? key.toUpperCase() : key
      })
    const path = fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { maxLength: 9 })
    fc.assert(
      fc.property(secretName, path, fc.uuid(), (name, parents, value) => {
        const { log, text } = captureLog()
        let object: Record<string, unknown> = { [name]: `s3cr3t-${value}` }
        for (const parent of parents.reverse()) {
          object = { [parent]: object, sibling: `visible-${value}` }
        }
        log.info(object, 'logged')
        expect(text()).not.toContain(`s3cr3t-${value}`)
        if (parents.length > 0) {
          expect(text()).toContain(`visible-${value}`)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('cuts off what is nested deeper than it prints, rather than printing it', () => {
    const { log, text } = captureLog()
    let deep: Record<string, unknown> = { note: 'bottom-value-0123' }
    for (let n = 0; n < 40; n++) {
      deep = { level: deep }
    }
    const circular: Record<string, unknown> = { name: 'loop' }
    circular.self = circular
    log.info({ deep, circular }, 'odd shapes')
    expect(text()).not.toContain('bottom-value-0123')
    expect(text()).toContain('[truncated]')
    expect(text()).toContain('[circular]')
  })

  it('scrubs credentials and quoted commands out of error messages and stacks', () => {
    const { log, text } = captureLog()
    const err = new Error(
      'UpstashError: ERR bad, command was: ["evalsha","x","ip:1.2.3.4"] Bearer s3cr3t',
    )
    log.error({ err }, 'failed')
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'
    log.error({ err: new Error(`token ${jwt} rejected; header Basic dXNlcjpwYXNz`) }, 'failed')
    const out = text()
    expect(out).not.toContain('1.2.3.4')
    expect(out).not.toContain('s3cr3t')
    expect(out).not.toContain(jwt)
    expect(out).not.toContain('dXNlcjpwYXNz')
  })

  it('masks keys recognisable by their shape in messages and values: pcsk_, ATATT, apm_, URL passwords', () => {
    const { log, lines, text } = captureLog()
    const pinecone = 'pcsk_4rT9x_Jd8Lk2mQp7ZsW1vBn6cXy3HfGa0eRtUiOp'
    const atlassian = 'ATATT3xFfGF0Q2hlY2tJdElzTm90QVJlYWxUb2tlbg=ABCD1234'
    const adminKey = 'apm_Qm9ndXNLZXlGb3JUZXN0c09ubHkwMTIzNDU2Nzg5'
    log.warn(`Pinecone refused key ${pinecone}`)
    log.error(new Error(`Jira said no to ${atlassian}`))
    log.info({ url: 'postgres://app:hunter2-pw@db.internal:25061/pool', note: adminKey }, 'ok')
    const out = text()
    for (const secret of [pinecone, atlassian, adminKey, 'hunter2-pw']) {
      expect(out).not.toContain(secret)
    }
    expect(lines[0]?.msg).toBe('Pinecone refused key [redacted]')
    expect(lines[2]?.url).toBe('postgres://app:[redacted]@db.internal:25061/pool')
    // Every line is still JSON (the scrubbing replaces token characters only).
    expect(lines).toHaveLength(3)
  })

  it('logs a pg error as its type, message, code and stack, never its client or row values', async () => {
    const { log, lines, text } = captureLog()
    const { pool } = getDatabase()
    const failed = await pool.query('select 1 / 0').then(
      () => undefined,
      (err: unknown) => err as Error,
    )
    expect(failed).toBeInstanceOf(pg.DatabaseError)
    // As a pool hands one out on a connection error: the client rides along.
    const client = new pg.Client({
      connectionString: 'postgres://app:hunter2-pw@10.9.8.7:25061/pool',
    })
    const withClient = Object.assign(new Error('Connection terminated unexpectedly'), {
      client,
      detail: 'Key (email)=(someone@example.com) already exists.',
    })
    log.error({ err: failed }, 'query failed')
    log.error({ err: withClient }, 'connection failed')
    expect(Object.keys(lines[0]?.err as object).sort()).toEqual([
      'code',
      'message',
      'stack',
      'type',
    ])
    expect(lines[0]?.err).toMatchObject({
      type: 'error',
      code: '22012',
      message: 'division by zero',
    })
    expect(Object.keys(lines[1]?.err as object).sort()).toEqual(['message', 'stack', 'type'])
    const out = text()
    for (const leak of ['hunter2-pw', '10.9.8.7', 'someone@example.com', 'typeParser']) {
      expect(out).not.toContain(leak)
    }
    expect(JSON.stringify(lines[1]).length).toBeLessThan(2000)
  })

  it('keeps the chain of causes, each reduced the same way', () => {
    const { log, lines } = captureLog()
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
      socket: { remoteAddress: '127.0.0.1' },
    })
    const middle = new TypeError('fetch failed', { cause: root })
    const top = new AppError('UPSTREAM_FAILED', 'Jira did not answer.', { cause: middle })
    log.error({ err: top }, 'request failed')
    expect(lines[0]?.err).toEqual({
      type: 'AppError',
      message: 'Jira did not answer.',
      code: 'UPSTREAM_FAILED',
      stack: expect.any(String),
      cause: {
        type: 'TypeError',
        message: 'fetch failed',
        stack: expect.any(String),
        cause: {
          type: 'Error',
          message: 'connect ECONNREFUSED 127.0.0.1:9',
          code: 'ECONNREFUSED',
          stack: expect.any(String),
        },
      },
    })
  })
})

describe('isSecretKey', () => {
  it('knows secrets by their name in any spelling, and leaves look-alike counters alone', () => {
    for (const key of [
      'Authorization',
      'API_KEY',
      'x-admin-key',
      'Set-Cookie',
      'jwtPreviousSecret',
      'nextPageToken',
      'x-monitor-token',
    ]) {
      expect(isSecretKey(key), key).toBe(true)
    }
    for (const key of ['tokenVersion', 'total_tokens', 'keyId', 'rateLimitKey', 'authorized']) {
      expect(isSecretKey(key), key).toBe(false)
    }
  })
})
