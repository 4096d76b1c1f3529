import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertProblem, bearer, call, type TargetRef } from './client.ts'

/** API-key authentication on /api/*. */
export function authChecks(target: TargetRef): void {
  describe('authentication', () => {
    it('no key: 401 with WWW-Authenticate: Bearer', async () => {
      const res = await call(target(), '/api/v1/me')
      assertProblem(res, 401)
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/)
    })

    it('a wrong key: 401 with WWW-Authenticate: Bearer', async () => {
      const res = await call(target(), '/api/v1/me', { headers: bearer('not-a-key-0123456789abcdef') })
      assertProblem(res, 401)
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/)
    })

    it('a key in another scheme is refused', async () => {
      const res = await call(target(), '/api/v1/me', { headers: { authorization: `Basic ${btoa(`x:${target().users.alice.key}`)}` } })
      assertProblem(res, 401)
    })

    it('each valid key acts as its own user', async () => {
      const { alice, bob } = target().users
      assert.deepEqual((await call(target(), '/api/v1/me', { headers: bearer(alice.key) })).json(), { id: alice.id })
      assert.deepEqual((await call(target(), '/api/v1/me', { headers: bearer(bob.key) })).json(), { id: bob.id })
    })
  })
}
