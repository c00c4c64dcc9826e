import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeOpenWhisk, startFakeOpenWhisk } from './fake-openwhisk.ts'

let fake: FakeOpenWhisk

beforeAll(async () => {
  fake = await startFakeOpenWhisk({ namespace: 'fn-fake', apiKey: 'id:secret', token: 'dop_v1_t' })
})

afterAll(async () => {
  await fake.close()
})

const basic = (key: string) => `Basic ${Buffer.from(key).toString('base64')}`

async function call(
  method: string,
  path: string,
  body?: unknown,
  authorization = basic('id:secret'),
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : {} }
}

const action = (overrides: Record<string, unknown> = {}) => ({
  exec: { kind: 'nodejs:22', code: 'exports.main = () => ({})' },
  limits: { timeout: 15_000, memory: 256 },
  annotations: [{ key: 'web-export', value: true }],
  ...overrides,
})

describe('fake OpenWhisk controller', () => {
  it('lists runtimes without credentials and refuses everything else without the key', async () => {
    const info = await call('GET', '/api/v1', undefined, '')
    expect(info.status).toBe(200)
    expect(info.body.runtimes).toHaveProperty('nodejs')
    const refused = await call('GET', '/api/v1/namespaces', undefined, basic('id:wrong'))
    expect(refused.status).toBe(401)
    expect(refused.body).toMatchObject({ error: 'The supplied authentication is invalid.' })
    expect((await call('GET', '/api/v1/namespaces')).body).toEqual(['fn-fake'])
  })

  it('stores a package and its actions, bumping versions and refusing a second create', async () => {
    expect((await call('PUT', '/api/v1/namespaces/_/actions/p1/f', action())).status).toBe(404)
    expect((await call('PUT', '/api/v1/namespaces/_/packages/p1?overwrite=true', {})).status).toBe(
      200,
    )
    const first = await call(
      'PUT',
      '/api/v1/namespaces/fn-fake/actions/p1/f?overwrite=true',
      action(),
    )
    expect(first.body).toMatchObject({ namespace: 'fn-fake/p1', name: 'f', version: '0.0.1' })
    expect(first.body.exec).not.toHaveProperty('code')
    const again = await call('PUT', '/api/v1/namespaces/fn-fake/actions/p1/f', action())
    expect(again.status).toBe(409)
    const second = await call(
      'PUT',
      '/api/v1/namespaces/fn-fake/actions/p1/f?overwrite=true',
      action(),
    )
    expect(second.body.version).toBe('0.0.2')
    const read = await call('GET', '/api/v1/namespaces/fn-fake/actions/p1/f?code=false')
    expect(read.body.exec).toEqual({ kind: 'nodejs:22', binary: false })
    expect(fake.actions.get('p1/f')?.exec.code).toBe('exports.main = () => ({})')
    expect((await call('GET', '/api/v1/namespaces/fn-other/actions/p1/f')).status).toBe(403)
  })

  it("refuses actions outside DigitalOcean's limits or runtimes, as a malformed request", async () => {
    await call('PUT', '/api/v1/namespaces/_/packages/p2?overwrite=true', {})
    for (const bad of [
      action({ limits: { timeout: 900_001, memory: 256 } }),
      action({ limits: { timeout: 99, memory: 256 } }),
      action({ limits: { timeout: 1_000, memory: 1_025 } }),
      action({ exec: { kind: 'nodejs:20', code: 'x' } }),
      action({ exec: { kind: 'nodejs:22', code: '' } }),
    ]) {
      const refused = await call('PUT', '/api/v1/namespaces/_/actions/p2/bad?overwrite=true', bad)
      expect(refused.status, JSON.stringify(bad)).toBe(400)
      expect(String(refused.body.error)).toMatch(/^The request content was malformed:/)
    }
    expect(fake.actions.has('p2/bad')).toBe(false)
  })
})

describe("fake DigitalOcean trigger API (reached through the fake as the deployer's proxy)", () => {
  // As the deployer's HTTP client sends it to a proxy: the absolute URL as the request target.
  function doApi(method: string, path: string, body?: unknown, token = 'dop_v1_t') {
    const { port } = new URL(fake.url)
    return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: `https://api.digitalocean.com${path}`,
          headers: {
            host: 'api.digitalocean.com',
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
          },
        },
        (res) => {
          let text = ''
          res.on('data', (chunk) => {
            text += chunk
          })
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }),
          )
        },
      )
      req.on('error', reject)
      req.end(body === undefined ? undefined : JSON.stringify(body))
    })
  }
  const trigger = (name: string, cron = '* * * * *') => ({
    name,
    namespace: 'fn-fake',
    function: 'p1/f',
    is_enabled: true,
    trigger_source: 'SCHEDULED',
    cron,
    body: { trigger: name },
  })

  it('creates at most three scheduled triggers, each on an existing function with a valid cron', async () => {
    expect((await doApi('POST', '/v2/functions/trigger', trigger('t0'), 'wrong')).status).toBe(401)
    expect((await doApi('POST', '/v2/functions/trigger', trigger('t0', '@daily'))).status).toBe(422)
    expect(
      (await doApi('POST', '/v2/functions/trigger', { ...trigger('t0'), function: 'p1/none' }))
        .status,
    ).toBe(422)
    for (const name of ['t1', 't2', 't3']) {
      expect((await doApi('POST', '/v2/functions/trigger', trigger(name))).status, name).toBe(200)
    }
    expect((await doApi('POST', '/v2/functions/trigger', trigger('t4'))).status).toBe(422)
    expect((await doApi('DELETE', '/v2/functions/trigger/fn-fake/t1')).status).toBe(204)
    expect((await doApi('DELETE', '/v2/functions/trigger/fn-fake/t1')).status).toBe(404)
    expect((await doApi('POST', '/v2/functions/trigger', trigger('t4'))).status).toBe(200)
    const listed = await doApi('GET', '/v2/functions/triggers/fn-fake')
    expect((listed.body.triggers as Array<{ name: string }>).map((t) => t.name).sort()).toEqual([
      't2',
      't3',
      't4',
    ])
  })
})
