import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import { appWith, FORMS } from '../../../test/helpers/forms.ts'
import { buildDocumentHeaders, buildSecurityHeaders, securityHeaders, type SecurityHeadersOptions } from './index.ts'

/** A static file handler with one page, as the runtimes' `serveStatic` behaves: a miss calls `next`. */
const onePage: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.path !== '/page.html') return next()
  return c.html('<!doctype html><p>page</p>')
}

const PAGE_CSP = /^default-src 'self'.*frame-ancestors 'none'/

describe('securityHeaders', () => {
  it('sends every OWASP header on every response, and no X-XSS-Protection', async () => {
    const { app } = await testApp({ deps: { serveStatic: onePage } })
    for (const [path, init] of [['/live', {}], ['/api/v1/me', { headers: AUTH.alice }], ['/api/v1/me', {}], ['/nope', {}], ['/page.html', {}]] as const) {
      // Over TLS: HSTS belongs only there.
      const res = await app.request(`https://localhost${path}`, init)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
      assert.equal(res.headers.get('x-frame-options'), 'DENY')
      assert.equal(res.headers.get('referrer-policy'), 'strict-origin-when-cross-origin')
      assert.equal(res.headers.get('permissions-policy'), 'camera=(), microphone=(), geolocation=(), payment=(), usb=()')
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains')
      assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin')
      assert.ok(res.headers.get('content-security-policy'), path)
      assert.equal(res.headers.get('x-xss-protection'), null)
    }
  })

  it('gives API answers, errors included, the REST set: a CSP that allows nothing, and no-store', async () => {
    const { app } = await testApp({ deps: { serveStatic: onePage } })
    for (const [path, init, status] of [['/api/v1/me', { headers: AUTH.alice }, 200], ['/api/v1/me', {}, 401], ['/nope', {}, 404]] as const) {
      const res = await app.request(path, init)
      assert.equal(res.status, status, path)
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", path)
      assert.equal(res.headers.get('cache-control'), 'no-store', path)
      assert.equal(res.headers.get('cross-origin-opener-policy'), null, path)
    }
  })

  it("lets a route's own Cache-Control win", async () => {
    const { app } = await testApp()
    const res = await app.request('/api/v1/chat/stream', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'hi' }),
    })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform')
    await res.text()
  })

  it("gives static files the page's set: the configured CSP and COOP, and no no-store", async () => {
    const { app } = await testApp({ deps: { serveStatic: onePage } })
    const res = await app.request('/page.html')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-security-policy') ?? '', PAGE_CSP)
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin')
    assert.equal(res.headers.get('cache-control'), null)
    assert.ok(res.headers.get('x-request-id'))
  })

  it('takes HSTS and both CSPs from the config', async () => {
    const { app } = await testApp({
      deps: { serveStatic: onePage },
      env: {
        SECURITY_HSTS_MAX_AGE: '1h',
        SECURITY_HSTS_INCLUDE_SUBDOMAINS: 'false',
        SECURITY_HSTS_PRELOAD: 'true',
        SECURITY_CSP: "default-src 'self'",
        SECURITY_API_CSP: "frame-ancestors 'none'",
        SECURITY_REFERRER_POLICY: 'no-referrer',
      },
    })
    const res = await app.request('https://localhost/live')
    assert.equal(res.headers.get('strict-transport-security'), 'max-age=3600; preload')
    assert.equal(res.headers.get('content-security-policy'), "frame-ancestors 'none'")
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer')
    const page = await app.request('/page.html')
    assert.equal(page.headers.get('content-security-policy'), "default-src 'self'")
  })

  it('sends no HSTS when disabled and no CSP when empty', async () => {
    const { app } = await testApp({ deps: { serveStatic: onePage }, env: { SECURITY_HSTS_ENABLED: 'false', SECURITY_CSP: '', SECURITY_API_CSP: '' } })
    for (const path of ['/live', '/page.html']) {
      const res = await app.request(`https://localhost${path}`)
      assert.equal(res.headers.get('strict-transport-security'), null, path)
      assert.equal(res.headers.get('content-security-policy'), null, path)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
    }
  })

  it('sends HSTS only over TLS or from a trusted proxy saying X-Forwarded-Proto: https (RFC 6797 §7.2)', async () => {
    const proxied = { 'x-forwarded-proto': 'https' }
    const direct = await testApp({ deps: { serveStatic: onePage } })
    for (const path of ['/live', '/page.html', '/nope']) {
      assert.equal((await direct.app.request(path)).headers.get('strict-transport-security'), null, `plain HTTP ${path}`)
      assert.equal((await direct.app.request(path, { headers: proxied })).headers.get('strict-transport-security'), null, `untrusted peer ${path}`)
      assert.ok((await direct.app.request(`https://localhost${path}`)).headers.get('strict-transport-security'), `TLS ${path}`)
    }
    const behindProxy = await testApp({ deps: { serveStatic: onePage, peerAddress: () => '10.1.2.3' }, env: { TRUSTED_PROXIES: '10.0.0.0/8' } })
    for (const path of ['/live', '/page.html']) {
      const res = await behindProxy.app.request(path, { headers: proxied })
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains', path)
      assert.equal((await behindProxy.app.request(path)).headers.get('strict-transport-security'), null, `no X-Forwarded-Proto ${path}`)
      // The proxy's own word is the last entry; a client's prepended `https` does not count.
      const spoofed = await behindProxy.app.request(path, { headers: { 'x-forwarded-proto': 'https, http' } })
      assert.equal(spoofed.headers.get('strict-transport-security'), null, `spoofed ${path}`)
    }
  })

  it('builds each header set once from the options', () => {
    const options = {
      hsts: { enabled: true, max_age: 63_072_000_000, include_subdomains: true, preload: true },
      csp: '',
      api_csp: "default-src 'none'",
      referrer_policy: 'same-origin',
      permissions_policy: '',
    }
    const api = buildSecurityHeaders(options)
    assert.equal(api['strict-transport-security'], 'max-age=63072000; includeSubDomains; preload')
    assert.equal(api['permissions-policy'], undefined)
    assert.equal(api['content-security-policy'], "default-src 'none'")
    assert.equal(api['x-xss-protection'], undefined)
    const page = buildDocumentHeaders(options)
    assert.equal(page['content-security-policy'], undefined)
    assert.equal(page['cache-control'], undefined)
    assert.equal(page['strict-transport-security'], api['strict-transport-security'])
  })
})

const OPTIONS: SecurityHeadersOptions = {
  hsts: { enabled: true, max_age: 3_600_000, include_subdomains: false, preload: false },
  csp: "default-src 'self'",
  api_csp: "default-src 'none'",
  referrer_policy: 'no-referrer',
  permissions_policy: 'camera=()',
}

for (const form of FORMS) {
  describe(`securityHeaders (${form})`, () => {
    it("puts the API set on a plain c.json() answer, under the handler's own Cache-Control", async () => {
      const app = appWith(form, [securityHeaders(OPTIONS)], (app) => {
        app.get('/json', (c) => c.json({ ok: true }))
        app.get('/cached', (c) => c.json({ ok: true }, 200, { 'cache-control': 'max-age=60' }))
      })
      const res = await app.request('https://localhost/json')
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'")
      assert.equal(res.headers.get('cache-control'), 'no-store')
      assert.equal(res.headers.get('x-frame-options'), 'DENY')
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=3600')
      assert.equal((await app.request('/json')).headers.get('strict-transport-security'), null)
      assert.equal((await app.request('/cached')).headers.get('cache-control'), 'max-age=60')
    })
  })
}
