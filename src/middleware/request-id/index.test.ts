import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import type { AppEnv } from '../../env.ts'
import { json } from '../../pipeline/index.ts'
import { appWith, FORMS, type Form } from '../../../test/helpers/forms.ts'
import { requestId } from './index.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function idApp(form: Form, options?: Parameters<typeof requestId>[0]) {
  return appWith(form, [requestId(options)], (app) => {
    app.get('/', (c) => json(c, { id: c.var.requestId }))
    // A plain Hono handler gets the header too.
    app.get('/plain', (c) => c.json({ id: c.var.requestId }))
    app.get('/raw', (c) => new Response(c.var.requestId))
  })
}

async function idOf(app: Hono<AppEnv>, inbound?: string) {
  const res = await app.request('/', inbound === undefined ? {} : { headers: { 'x-request-id': inbound } })
  const body = await res.json()
  assert.equal(res.headers.get('x-request-id'), body.id, 'the echoed id is the one handlers see')
  return body.id as string
}

for (const form of FORMS) describe(`requestId (${form})`, () => {
  it('echoes the id on plain c.json() and new Response() answers too', async () => {
    const app = idApp(form)
    const plain = await app.request('/plain', { headers: { 'x-request-id': 'plain-1' } })
    assert.equal(plain.headers.get('x-request-id'), 'plain-1')
    assert.deepEqual(await plain.json(), { id: 'plain-1' })
    const raw = await app.request('/raw')
    assert.match(raw.headers.get('x-request-id') ?? '', UUID)
    assert.equal(await raw.text(), raw.headers.get('x-request-id'))
  })

  it('accepts a well-formed inbound id of up to 128 characters of [A-Za-z0-9._-]', async () => {
    const app = idApp(form)
    for (const id of ['abc-123', 'A.b_C-9', 'x'.repeat(128), '0']) assert.equal(await idOf(app, id), id)
  })

  it('replaces a missing, malformed or over-long inbound id with a generated one', async () => {
    const app = idApp(form)
    assert.match(await idOf(app), UUID)
    for (const bad of ['x'.repeat(129), 'has space', 'semi;colon', 'new\\nline', '<script>', 'ünïcode', 'a/b', '']) {
      const id = await idOf(app, bad)
      assert.notEqual(id, bad)
      assert.match(id, UUID)
    }
  })

  it('generates a different id per request', async () => {
    const app = idApp(form)
    assert.notEqual(await idOf(app), await idOf(app))
  })

  it('uses the injected generator and header name', async () => {
    const app = idApp(form, { headerName: 'X-Correlation-ID', generate: () => 'fixed-id' })
    const res = await app.request('/')
    assert.equal(res.headers.get('x-correlation-id'), 'fixed-id')
    const echoed = await app.request('/', { headers: { 'x-correlation-id': 'given' } })
    assert.equal(echoed.headers.get('x-correlation-id'), 'given')
  })
})

describe('requestId in the app', () => {
  it('is echoed on success and on every error response of the whole app (401, 404, 405, 413, 429, 500)', async () => {
    const routes = new Hono<AppEnv>().get('/api/v1/boom', () => {
      throw new Error('boom')
    })
    const { app } = await testApp({ env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '3', MAX_REQUEST_BODY_SIZE: '16' }, routes })
    const cases: [number, string, RequestInit][] = [
      [200, '/api/v1/me', { headers: AUTH.alice }],
      [401, '/api/v1/me', {}],
      [404, '/nowhere', {}],
      [405, '/live', { method: 'POST' }],
      [413, '/api/v1/me', { method: 'POST', body: 'x'.repeat(17), headers: { ...AUTH.alice, 'content-length': '17' } }],
      [500, '/api/v1/boom', { headers: AUTH.bob }],
    ]
    for (const [status, path, init] of cases) {
      const id = `req-${status}`
      const res = await app.request(path, { ...init, headers: { ...(init.headers as Record<string, string>), 'x-request-id': id } })
      assert.equal(res.status, status, `${path} → ${status}`)
      assert.equal(res.headers.get('x-request-id'), id)
      if (status >= 400) assert.equal((await res.json()).request_id, id)
    }
    // Alice has spent her three tokens (200, 413 and this one); the next is limited.
    await app.request('/api/v1/me', { headers: AUTH.alice })
    const limited = await app.request('/api/v1/me', { headers: { ...AUTH.alice, 'x-request-id': 'req-429' } })
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('x-request-id'), 'req-429')
    assert.equal((await limited.json()).request_id, 'req-429')
  })
})
