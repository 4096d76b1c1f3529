import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bearer, call, type TargetRef } from './client.ts'

function rateHeaders(headers: Headers) {
  return {
    limit: Number(headers.get('x-ratelimit-limit')),
    remaining: Number(headers.get('x-ratelimit-remaining')),
    reset: Number(headers.get('x-ratelimit-reset')),
  }
}

/** Limited routes say where the caller stands; probes are exempt. The runner's bucket is large and slow to refill. */
export function rateLimitChecks(target: TargetRef): void {
  describe('rate-limit headers', () => {
    it('a limited route carries X-RateLimit-Limit, -Remaining and -Reset', async () => {
      const res = await call(target(), '/api/v1/me', { headers: bearer(target().users.alice.key) })
      assert.equal(res.status, 200)
      for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
        assert.match(res.headers.get(name) ?? '', /^\d+$/, name)
      }
      const { limit, remaining, reset } = rateHeaders(res.headers)
      assert.equal(limit, target().rateLimitBurst, 'the configured burst')
      assert.ok(remaining < limit, `remaining ${remaining} < limit ${limit}`)
      assert.ok(reset >= Math.floor(Date.now() / 1000) - 5, `reset ${reset} is a unix time`)
    })

    it('each request spends a token', async () => {
      const headers = bearer(target().users.bob.key)
      const first = rateHeaders((await call(target(), '/api/v1/me', { headers })).headers)
      const second = rateHeaders((await call(target(), '/api/v1/me', { headers })).headers)
      assert.ok(second.remaining < first.remaining, `${second.remaining} < ${first.remaining}`)
    })

    it('rejected requests are limited too (per client address)', async () => {
      const res = await call(target(), '/api/v1/me')
      assert.equal(res.status, 401)
      assert.match(res.headers.get('x-ratelimit-remaining') ?? '', /^\d+$/)
    })
  })
}
