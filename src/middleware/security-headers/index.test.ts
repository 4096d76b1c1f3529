import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import { buildSecurityHeaders } from './index.ts'

describe('securityHeaders', () => {
  it('sends every OWASP header by default, and no X-XSS-Protection', async () => {
    const { app } = await testApp()
    for (const [path, init] of [['/live', {}], ['/api/v1/me', { headers: AUTH.alice }], ['/api/v1/me', {}], ['/nope', {}]] as const) {
      const res = await app.request(path, init)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
      assert.equal(res.headers.get('x-frame-options'), 'DENY')
      assert.equal(res.headers.get('referrer-policy'), 'strict-origin-when-cross-origin')
      assert.equal(res.headers.get('permissions-policy'), 'camera=(), microphone=(), geolocation=(), payment=(), usb=()')
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains')
      assert.match(res.headers.get('content-security-policy') ?? '', /^default-src 'self'.*frame-ancestors 'none'/)
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin')
      assert.equal(res.headers.get('x-xss-protection'), null)
    }
  })

  it('takes HSTS and CSP from the config', async () => {
    const { app } = await testApp({
      env: {
        SECURITY_HSTS_MAX_AGE: '1h',
        SECURITY_HSTS_INCLUDE_SUBDOMAINS: 'false',
        SECURITY_HSTS_PRELOAD: 'true',
        SECURITY_CSP: "default-src 'none'",
        SECURITY_REFERRER_POLICY: 'no-referrer',
      },
    })
    const res = await app.request('/live')
    assert.equal(res.headers.get('strict-transport-security'), 'max-age=3600; preload')
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'")
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer')
  })

  it('sends no HSTS when disabled and no CSP when empty', async () => {
    const { app } = await testApp({ env: { SECURITY_HSTS_ENABLED: 'false', SECURITY_CSP: '' } })
    const res = await app.request('/live')
    assert.equal(res.headers.get('strict-transport-security'), null)
    assert.equal(res.headers.get('content-security-policy'), null)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  })

  it('builds the header set once from the options', () => {
    const headers = buildSecurityHeaders({
      hsts: { enabled: true, max_age: 63_072_000_000, include_subdomains: true, preload: true },
      csp: '',
      referrer_policy: 'same-origin',
      permissions_policy: '',
    })
    assert.equal(headers['strict-transport-security'], 'max-age=63072000; includeSubDomains; preload')
    assert.equal(headers['permissions-policy'], undefined)
    assert.equal(headers['content-security-policy'], undefined)
    assert.equal(headers['x-xss-protection'], undefined)
  })
})
