import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, testApp } from '../test/helpers/app.ts'

describe('createApp', () => {
  it('serves /live without a key', async () => {
    const { app } = await testApp()
    const res = await app.request('/live')
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'alive' })
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  })

  it('answers an unknown path with a 404 problem carrying the request id', async () => {
    const { app } = await testApp()
    const res = await app.request('/nope', { headers: { 'x-request-id': 'abc-123' } })
    assert.equal(res.status, 404)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    const body = await res.json()
    assert.equal(body.request_id, 'abc-123')
    assert.equal(body.status, 404)
  })

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const { app } = await testApp()
    const res = await app.request('/live', { method: 'DELETE' })
    assert.equal(res.status, 405)
    assert.equal(res.headers.get('allow'), 'GET, HEAD')
  })

  it('requires a key under /api', async () => {
    const { app } = await testApp()
    const missing = await app.request('/api/v1/me')
    assert.equal(missing.status, 401)
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/)
    const ok = await app.request('/api/v1/me', { headers: AUTH.alice })
    assert.equal(ok.status, 200)
    assert.deepEqual(await ok.json(), { id: 'alice' })
  })
})
