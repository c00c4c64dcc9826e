import ConnectionParameters from 'pg/lib/connection-parameters'
import { describe, expect, it } from 'vitest'
import { connectionConfig, decodePem } from './connection.ts'

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

describe('decodePem', () => {
  it('reads a PEM plain, with literal \\n, or base64', () => {
    expect(decodePem(CA)).toBe(CA)
    expect(decodePem(CA.replaceAll('\n', '\\n'))).toBe(CA)
    expect(decodePem(Buffer.from(CA).toString('base64'))).toBe(CA)
  })
})
