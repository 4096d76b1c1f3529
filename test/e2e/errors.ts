import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertProblem, bearer, call, type TargetRef } from './client.ts'

/** Every error a client sees is RFC 9457 application/problem+json carrying the request id. */
export function errorChecks(target: TargetRef): void {
  describe('problem errors', () => {
    it('an unknown path is a 404 problem', async () => {
      const res = await call(target(), '/api/v1/does-not-exist', { headers: bearer(target().users.alice.key) })
      const body = assertProblem(res, 404)
      assert.equal(body.title, 'Not Found')
    })

    it('a known path with the wrong method is a 405 problem with Allow', async () => {
      const res = await call(target(), '/health', { method: 'DELETE' })
      assertProblem(res, 405)
      const allow = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim())
      assert.ok(allow.includes('GET'), `Allow: ${res.headers.get('allow')}`)
    })

    it('a missing API key is a 401 problem', async () => {
      assertProblem(await call(target(), '/api/v1/me'), 401)
    })

    it('problems carry the inbound request id', async () => {
      const res = await call(target(), '/api/v1/me', { headers: { 'x-request-id': 'e2e-problem-1' } })
      const body = assertProblem(res, 401)
      assert.equal(body.request_id, 'e2e-problem-1')
    })
  })
}
