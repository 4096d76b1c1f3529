import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import { AUTH, memoryLogger, testApp } from '../../../test/helpers/app.ts'
import type { AppEnv } from '../../env.ts'
import { json } from '../../pipeline/index.ts'
import { appWith, FORMS, type Form } from '../../../test/helpers/forms.ts'
import { cors, type CorsOptions } from './index.ts'

const APP_ORIGIN = 'https://app.example.com'
const EVIL_ORIGIN = 'https://evil.example.net'

const base: CorsOptions = {
  allowed_origins: [APP_ORIGIN],
  allowed_methods: ['GET', 'POST', 'DELETE'],
  allowed_headers: ['Authorization', 'Content-Type'],
  exposed_headers: ['X-Request-ID', 'Retry-After'],
  allow_credentials: false,
  max_age: 600_000,
}

function makeCorsApp(form: Form, overrides: Partial<CorsOptions> = {}) {
  return appWith(form, [cors({ ...base, ...overrides })], (app) => {
    app.get('/data', (c) => json(c, { ok: true }))
    app.post('/data', (c) => json(c, { ok: true }))
    // A plain Hono handler's answer gets the headers too.
    app.get('/plain', (c) => c.json({ ok: true }))
  })
}

function preflight(origin: string, method = 'POST') {
  return {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization' },
  }
}

const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
  'access-control-expose-headers',
]

function assertNoCors(res: Response) {
  for (const name of CORS_HEADERS) assert.equal(res.headers.get(name), null, name)
}

for (const form of FORMS) describe(`cors (${form})`, () => {
  const corsApp = (overrides: Partial<CorsOptions> = {}) => makeCorsApp(form, overrides)

  it('puts its headers on a plain c.json() answer', async () => {
    const res = await corsApp().request('/plain', { headers: { origin: APP_ORIGIN } })
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN)
    assert.equal(res.headers.get('vary'), 'Origin')
    assert.equal(res.headers.get('access-control-expose-headers'), 'X-Request-ID, Retry-After')
  })

  it('answers a preflight from an allowed origin with 204, methods, headers and max-age in seconds', async () => {
    const res = await corsApp().request('/data', preflight(APP_ORIGIN))
    assert.equal(res.status, 204)
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN)
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET, POST, DELETE')
    assert.equal(res.headers.get('access-control-allow-headers'), 'Authorization, Content-Type')
    assert.equal(res.headers.get('access-control-max-age'), '600')
    assert.equal(res.headers.get('access-control-allow-credentials'), null)
    assert.equal(res.headers.get('vary'), 'Origin')
    assert.equal(await res.text(), '')
  })

  it('answers a preflight from a disallowed origin with 204 and no CORS headers', async () => {
    const res = await corsApp().request('/data', preflight(EVIL_ORIGIN))
    assert.equal(res.status, 204)
    assertNoCors(res)
    assert.equal(res.headers.get('vary'), 'Origin')
  })

  it('matches origins exactly: no prefix, suffix, scheme or port variants', async () => {
    const app = corsApp()
    for (const origin of [
      'https://app.example.com.evil.net',
      'https://evilapp.example.com',
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://APP.example.com',
      'null',
    ]) {
      const res = await app.request('/data', { headers: { origin } })
      assert.equal(res.status, 200)
      assertNoCors(res)
    }
  })

  it('adds allow-origin, expose-headers and Vary to an actual request from an allowed origin', async () => {
    const res = await corsApp().request('/data', { headers: { origin: APP_ORIGIN } })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN)
    assert.equal(res.headers.get('access-control-expose-headers'), 'X-Request-ID, Retry-After')
    assert.equal(res.headers.get('vary'), 'Origin')
    assert.equal(res.headers.get('access-control-allow-methods'), null)
  })

  it('gives a disallowed origin the response without any CORS header', async () => {
    const res = await corsApp().request('/data', { headers: { origin: EVIL_ORIGIN } })
    assert.equal(res.status, 200)
    assertNoCors(res)
    assert.equal(res.headers.get('vary'), 'Origin')
  })

  it('sends Vary: Origin even without an Origin header when the answer depends on it', async () => {
    const res = await corsApp().request('/data')
    assertNoCors(res)
    assert.equal(res.headers.get('vary'), 'Origin')
  })

  it('sends allow-credentials for an allowed origin only, echoing that origin', async () => {
    const app = corsApp({ allow_credentials: true })
    const allowed = await app.request('/data', { headers: { origin: APP_ORIGIN } })
    assert.equal(allowed.headers.get('access-control-allow-origin'), APP_ORIGIN)
    assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true')
    const pre = await app.request('/data', preflight(APP_ORIGIN))
    assert.equal(pre.headers.get('access-control-allow-credentials'), 'true')
    const denied = await app.request('/data', { headers: { origin: EVIL_ORIGIN } })
    assertNoCors(denied)
  })

  it('answers * (never the caller origin) when * is allowed without credentials, with no Vary', async () => {
    const app = corsApp({ allowed_origins: ['*'] })
    const res = await app.request('/data', { headers: { origin: EVIL_ORIGIN } })
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
    assert.equal(res.headers.get('access-control-allow-credentials'), null)
    assert.equal(res.headers.get('vary'), null)
    const pre = await app.request('/data', preflight(EVIL_ORIGIN))
    assert.equal(pre.status, 204)
    assert.equal(pre.headers.get('access-control-allow-origin'), '*')
  })

  it('refuses * together with allow_credentials', () => {
    assert.throws(() => cors({ ...base, allowed_origins: ['*'], allow_credentials: true }), /allow_credentials/)
  })

  it('leaves OPTIONS without Access-Control-Request-Method to the routes', async () => {
    const res = await corsApp().request('/data', { method: 'OPTIONS', headers: { origin: APP_ORIGIN } })
    // Hono's own not-found answer on a bare app; the app's recovery knows the path and says 405.
    assert.equal(res.status, form === 'app.use' ? 404 : 405)
  })

  it('compares against configured origins in the lower case browsers send', async () => {
    const res = await corsApp({ allowed_origins: ['https://App.Example.com'] }).request('/data', { headers: { origin: APP_ORIGIN } })
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN)
  })

  it('adds no CORS header and no Vary when no origin is allowed', async () => {
    const app = corsApp({ allowed_origins: [] })
    const res = await app.request('/data', { headers: { origin: APP_ORIGIN } })
    assertNoCors(res)
    assert.equal(res.headers.get('vary'), null)
  })
})

describe('cors', () => {
  describe('in the whole app (CORS_ALLOWED_ORIGINS)', () => {
    const env = {
      CORS_ALLOWED_ORIGINS: `${APP_ORIGIN}, https://other.example.org`,
      CORS_MAX_AGE: '10m',
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_BURST: '1',
    }

    it('answers a preflight to an authenticated, rate-limited route itself, without a key', async () => {
      const { app } = await testApp({ env })
      for (let i = 0; i < 3; i++) {
        const res = await app.request('/api/v1/me', preflight(APP_ORIGIN, 'GET'))
        assert.equal(res.status, 204)
        assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN)
        assert.equal(res.headers.get('access-control-max-age'), '600')
        assert.equal(res.headers.get('x-ratelimit-remaining'), null)
        assert.ok(res.headers.get('x-request-id'))
      }
      const second = await app.request('/api/v1/me', { headers: { origin: 'https://other.example.org', ...AUTH.alice } })
      assert.equal(second.status, 200)
      assert.equal(second.headers.get('access-control-allow-origin'), 'https://other.example.org')
    })

    it('puts CORS headers on error responses so the browser can read them', async () => {
      const { app } = await testApp({ env })
      const unauthorized = await app.request('/api/v1/me', { headers: { origin: APP_ORIGIN } })
      assert.equal(unauthorized.status, 401)
      assert.equal(unauthorized.headers.get('access-control-allow-origin'), APP_ORIGIN)
      assert.match(unauthorized.headers.get('access-control-expose-headers') ?? '', /X-Request-ID/)
      const limited = await app.request('/api/v1/me', { headers: { origin: APP_ORIGIN } })
      assert.equal(limited.status, 429)
      assert.equal(limited.headers.get('access-control-allow-origin'), APP_ORIGIN)
    })
  })
})
