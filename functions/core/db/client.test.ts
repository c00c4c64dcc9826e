import ConnectionParameters from 'pg/lib/connection-parameters'
import { describe, expect, it } from 'vitest'
import { useTestDatabase } from '#test/database.ts'
import { connectionConfig, createDatabase } from './client.ts'

const getDatabase = useTestDatabase()
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'

describe('connectionConfig', () => {
  it("keeps the CA certificate when the URL carries DigitalOcean's sslmode=require", () => {
    const config = connectionConfig({
      url: 'postgres://doadmin:pw@db.example:25061/pool?sslmode=require&application_name=fn',
      caCert: CA,
    })
    const parameters = new ConnectionParameters(config) as unknown as { ssl: unknown; host: string }
    expect(parameters.ssl).toEqual({ ca: CA, rejectUnauthorized: true })
    expect(parameters.host).toBe('db.example')
    expect(config.connectionString).toContain('application_name=fn')
  })

  it('leaves the URL alone without a CA certificate', () => {
    const url = 'postgres://u@localhost:5432/db'
    expect(connectionConfig({ url, caCert: undefined })).toEqual({ connectionString: url })
  })
})

describe('createDatabase', () => {
  it('gives up on a query that outlives the timeout instead of hanging the function', async () => {
    const { pool } = createDatabase(
      { url: getDatabase().url, caCert: undefined, poolMax: 1 },
      () => {},
      200,
    )
    try {
      await expect(pool.query('select pg_sleep(2)')).rejects.toThrow(/timeout/i)
    } finally {
      await pool.end()
    }
  })

  it('sends no startup parameter PgBouncer would refuse', async () => {
    const { pool } = createDatabase({ url: getDatabase().url, caCert: undefined, poolMax: 1 })
    try {
      const setting = await pool.query<{ statement_timeout: string }>('show statement_timeout')
      expect(setting.rows[0]?.statement_timeout).toBe('0')
    } finally {
      await pool.end()
    }
  })
})
