import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bearer, call, type TargetRef } from './client.ts'

/** `GET /api/v1/me`: who the key belongs to. */
export function meChecks(target: TargetRef): void {
  describe('/api/v1/me', () => {
    it('returns the caller as JSON', async () => {
      const { alice } = target().users
      const res = await call(target(), '/api/v1/me', { headers: bearer(alice.key) })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
      assert.deepEqual(res.json(), { id: alice.id })
    })
  })
}
