import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { call, type TargetRef } from './client.ts'

/** `X-Request-ID`: echoed when well formed, generated otherwise, on every response. */
export function requestIdChecks(target: TargetRef): void {
  describe('request id', () => {
    it('echoes a well-formed inbound X-Request-ID', async () => {
      const res = await call(target(), '/health', { headers: { 'x-request-id': 'e2e-abc.123_XYZ' } })
      assert.equal(res.headers.get('x-request-id'), 'e2e-abc.123_XYZ')
    })

    it('generates one when none is sent', async () => {
      const a = (await call(target(), '/live')).headers.get('x-request-id')
      const b = (await call(target(), '/live')).headers.get('x-request-id')
      assert.ok(a && b)
      assert.notEqual(a, b)
    })

    it('replaces an unacceptable inbound id (too long, odd characters)', async () => {
      for (const bad of ['x'.repeat(200), 'has space', 'semi;colon']) {
        const res = await call(target(), '/live', { headers: { 'x-request-id': bad } })
        const echoed = res.headers.get('x-request-id')
        assert.ok(echoed, 'an id is always sent')
        assert.notEqual(echoed, bad)
      }
    })
  })
}
