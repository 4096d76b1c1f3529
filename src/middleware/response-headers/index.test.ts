import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import type { AppEnv } from '../../env.ts'
import { json, send } from '../../http/response.ts'
import { responseHeaders } from './index.ts'
import { requestState } from '../../http/request-state.ts'

function bagApp() {
  const app = new Hono<AppEnv>()
  app.use(responseHeaders())
  app.use(async function addHeaders(c, next) {
    requestState(c).headers['x-from-bag'] = 'bag'
    requestState(c).headers['x-conflict'] = 'bag'
    await next()
  })
  app.get('/send', (c) => json(c, { ok: true }, 200, { 'x-conflict': 'handler' }))
  app.get('/builtin', (c) => c.text('plain', 200, { 'x-conflict': 'handler' }))
  app.get('/raw', () => new Response('raw'))
  app.get('/frozen', () => Response.redirect('http://localhost/elsewhere', 302))
  return app
}

describe('responseHeaders', () => {
  it('puts the gathered headers on responses built with send()/json(), extra headers winning', async () => {
    const res = await bagApp().request('/send')
    assert.equal(res.headers.get('x-from-bag'), 'bag')
    assert.equal(res.headers.get('x-conflict'), 'handler')
    assert.equal(res.headers.get('content-type'), 'application/json')
  })

  it('copies them onto responses built any other way, without overriding what is set', async () => {
    const app = bagApp()
    const builtin = await app.request('/builtin')
    assert.equal(builtin.headers.get('x-from-bag'), 'bag')
    assert.equal(builtin.headers.get('x-conflict'), 'handler')
    const raw = await app.request('/raw')
    assert.equal(raw.headers.get('x-from-bag'), 'bag')
  })

  it('leaves immutable responses alone instead of failing', async () => {
    const res = await bagApp().request('/frozen')
    assert.equal(res.status, 302)
    assert.equal(res.headers.get('location'), 'http://localhost/elsewhere')
  })

  it('gives each request its own bag', async () => {
    const app = new Hono<AppEnv>()
    app.use(responseHeaders())
    let n = 0
    app.get('/', (c) => {
      requestState(c).headers[`x-n${n++}`] = '1'
      return send(c, null, 204, null)
    })
    await app.request('/')
    const second = await app.request('/')
    assert.equal(second.headers.get('x-n0'), null)
    assert.equal(second.headers.get('x-n1'), '1')
  })
})
