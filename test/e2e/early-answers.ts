import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, describe, it } from 'node:test'
import { Agent, request } from 'undici'
import { defaults } from '../../src/config/defaults.ts'
import type { TargetRef } from './client.ts'

const CHUNK = new Uint8Array(64 * 1024)

/** A chunked upload (no Content-Length, so the limit can only be found while reading) of `count` chunks. */
function chunks(count: number): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < count; i++) yield CHUNK
  })())
}

/**
 * Answers given before the request body was read (a 413 over the body limit, a 401 on a POST) must not
 * leave a keep-alive client's connection poisoned: the next request on the same agent succeeds. One
 * undici agent with a single connection, so that request can only go where the early answer went (or,
 * once the server said `Connection: close`, to a new connection).
 */
export function earlyAnswerChecks(target: TargetRef): void {
  describe('early answers on a keep-alive connection', () => {
    const agent = new Agent({ connections: 1, bodyTimeout: 10_000, headersTimeout: 10_000 })
    after(() => agent.close())

    async function twoGets(): Promise<void> {
      for (const path of ['/health', '/live']) {
        const res = await request(`${target().baseUrl}${path}`, { dispatcher: agent })
        assert.equal(res.statusCode, 200, path)
        await res.body.text()
      }
    }

    it('a 413 for a chunked body over the default limit, then two GETs on the same agent', async () => {
      // The shipped limit for chat bodies and a body 0.6 MiB over it.
      const count = Math.ceil((defaults.server as { max_request_body_size: number }).max_request_body_size / CHUNK.byteLength) + 10
      const res = await request(`${target().baseUrl}/api/v1/chat`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${target().users.alice.key}`, 'content-type': 'application/json' },
        body: chunks(count),
      })
      assert.equal(res.statusCode, 413)
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
      assert.equal((await res.body.json() as { status: number }).status, 413)
      await twoGets()
    })

    it('a 401 for an unauthenticated POST with a 2.5 MiB body, then two GETs on the same agent', async () => {
      const res = await request(`${target().baseUrl}/api/v1/chat`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: chunks(40),
      })
      assert.equal(res.statusCode, 401)
      await res.body.text()
      await twoGets()
    })
  })
}
