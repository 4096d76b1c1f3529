import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { call, type TargetRef } from './client.ts'

/** Probes: public, never rate limited, never cached. */
export function healthChecks(target: TargetRef): void {
  describe('health probes', () => {
    it('GET /health reports healthy with version and dependencies', async () => {
      const res = await call(target(), '/health')
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
      assert.equal(res.headers.get('cache-control'), 'no-store')
      const body = res.json()
      assert.equal(body.status, 'healthy')
      assert.equal(body.service, 'assistant-server')
      assert.equal(typeof body.version, 'string')
      assert.equal(typeof body.dependencies, 'object')
    })

    it('GET /ready says ready once the server serves', async () => {
      const res = await call(target(), '/ready')
      assert.equal(res.status, 200)
      assert.deepEqual(res.json(), { status: 'ready' })
    })

    it('GET /live says alive', async () => {
      const res = await call(target(), '/live')
      assert.equal(res.status, 200)
      assert.deepEqual(res.json(), { status: 'alive' })
    })

    it('probes need no API key and carry no rate-limit headers', async () => {
      for (const path of ['/health', '/ready', '/live']) {
        const res = await call(target(), path)
        assert.equal(res.status, 200, path)
        assert.equal(res.headers.get('x-ratelimit-limit'), null, path)
      }
    })
  })
}
