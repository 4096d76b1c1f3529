import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../../env.ts'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import { buildDocumentHeaders, buildSecurityHeaders } from './index.ts'

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
      const res = await app.request(path, init)
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
    const res = await app.request('/live')
    assert.equal(res.headers.get('strict-transport-security'), 'max-age=3600; preload')
    assert.equal(res.headers.get('content-security-policy'), "frame-ancestors 'none'")
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer')
    const page = await app.request('/page.html')
    assert.equal(page.headers.get('content-security-policy'), "default-src 'self'")
  })

  it('sends no HSTS when disabled and no CSP when empty', async () => {
    const { app } = await testApp({ deps: { serveStatic: onePage }, env: { SECURITY_HSTS_ENABLED: 'false', SECURITY_CSP: '', SECURITY_API_CSP: '' } })
    for (const path of ['/live', '/page.html']) {
      const res = await app.request(path)
      assert.equal(res.headers.get('strict-transport-security'), null, path)
      assert.equal(res.headers.get('content-security-policy'), null, path)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
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
