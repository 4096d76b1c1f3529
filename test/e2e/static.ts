import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { call, type TargetRef } from './client.ts'

/** The chat widget in public/, served at `/` by the runtime's own static helper. */
export function staticChecks(target: TargetRef): void {
  describe('static widget', () => {
    it('GET / serves public/index.html as HTML', async () => {
      const res = await call(target(), '/')
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
      assert.match(res.text, /<!doctype html>/i)
      assert.match(res.text, /assistant-server/)
    })

    it('the page carries the security headers and a request id', async () => {
      const res = await call(target(), '/')
      assert.ok(res.headers.get('content-security-policy'), 'content-security-policy')
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
      assert.ok(res.headers.get('x-request-id'))
    })

    it('a file that does not exist is a 404 problem, not a directory listing or a 500', async () => {
      const res = await call(target(), '/no-such-file.js')
      assert.equal(res.status, 404)
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
    })
  })
}
