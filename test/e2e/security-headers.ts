import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { call, type TargetRef } from './client.ts'

const EXPECTED = ['x-content-type-options', 'x-frame-options', 'referrer-policy', 'content-security-policy']

/** OWASP headers on every kind of response: JSON, problems and the static page, each with its set. */
export function securityHeaderChecks(target: TargetRef): void {
  describe('security headers', () => {
    for (const [label, path, status] of [['JSON', '/health', 200], ['a problem', '/nope', 404], ['the page', '/', 200]] as const) {
      it(`on ${label} (${path})`, async () => {
        const res = await call(target(), path)
        assert.equal(res.status, status)
        for (const name of EXPECTED) assert.ok(res.headers.get(name), `${name} missing on ${path}`)
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
        assert.equal(res.headers.get('x-xss-protection'), null)
        // The suite talks plain HTTP: HSTS there is forbidden (RFC 6797 §7.2); the Node TLS test checks it over TLS.
        assert.equal(res.headers.get('strict-transport-security'), null)
        if (path === '/') {
          // The page's policy and COOP; cacheable.
          assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/)
          assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin')
          assert.notEqual(res.headers.get('cache-control'), 'no-store')
        } else {
          assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'")
          assert.equal(res.headers.get('cache-control'), 'no-store')
        }
      })
    }
  })
}
