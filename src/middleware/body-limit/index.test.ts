import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { AUTH, memoryLogger, testApp } from '../../../test/helpers/app.ts'
import { json } from '../../pipeline/index.ts'
import { appWith, FORMS, type Form } from '../../../test/helpers/forms.ts'
import { recovery } from '../recovery/index.ts'
import { requestId } from '../request-id/index.ts'
import { validate } from '../validation/index.ts'
import { bodyLimit } from './index.ts'

const LIMIT = 64

function makeLimitedApp(form: Form, withRecovery = true) {
  const define = (app: import('hono').Hono<import('../../env.ts').AppEnv>) => {
    app.post('/json', async (c) => json(c, { got: await c.req.json() }))
    app.post('/text', async (c) => json(c, { length: (await c.req.text()).length }))
    app.post('/validated', validate('json', z.object({ name: z.string() })), (c) => json(c, c.req.valid('json')))
    app.post('/ignores-body', (c) => json(c, { ok: true }))
    app.post('/plain', async (c) => c.json({ length: (await c.req.text()).length }))
    app.get('/get', (c) => json(c, { ok: true }))
  }
  return appWith(form, [requestId(), bodyLimit({ maxBytes: LIMIT })], define, withRecovery ? { onError: recovery({ logger: memoryLogger().logger }) } : {})
}

/** A stream of `chunks` chunks of `size` bytes; `pulled` counts the bytes handed out. */
function chunkedBody(chunks: number, size: number, fill = 0x61) {
  const state = { pulled: 0, sent: 0 }
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.sent === chunks) return controller.close()
      state.sent++
      state.pulled += size
      controller.enqueue(new Uint8Array(size).fill(fill))
    },
  }, { highWaterMark: 0 })
  return { stream, state }
}

/** A Request that counts reads of `.body`, to prove the middleware leaves it alone. */
class BodySpy extends Request {
  static reads = 0
  override get body() {
    BodySpy.reads++
    return super.body
  }
}

async function assertTooLarge(res: Response) {
  assert.equal(res.status, 413)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = await res.json()
  assert.equal(body.status, 413)
  assert.match(body.detail, /64 bytes/)
  assert.equal(body.request_id, res.headers.get('x-request-id'))
}

for (const form of FORMS) describe(`bodyLimit (${form})`, () => {
  const limitedApp = () => makeLimitedApp(form)

  it('answers 413 itself on a plain Hono app with its own error handler, for a declared and a streamed body', async () => {
    const app = makeLimitedApp(form, false)
    await assertTooLarge(await app.request('/plain', { method: 'POST', body: 'x'.repeat(65), headers: { 'content-length': '65' } }))
    const { stream } = chunkedBody(4, 32)
    await assertTooLarge(await app.request('/plain', { method: 'POST', body: stream, duplex: 'half' } as RequestInit))
    const small = await app.request('/plain', { method: 'POST', body: 'x'.repeat(64) })
    assert.deepEqual(await small.json(), { length: 64 })
  })

  it('refuses a Content-Length over the limit without reading the body', async () => {
    const { stream, state } = chunkedBody(10, 32)
    const res = await limitedApp().request('/json', {
      method: 'POST',
      body: stream,
      headers: { 'content-length': '320', 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit)
    await assertTooLarge(res)
    assert.equal(state.pulled, 0)
  })

  it('refuses a chunked body without Content-Length once it crosses the limit, draining at most 4 MiB more', async () => {
    const { stream, state } = chunkedBody(6 * 1024, 1024)
    const res = await limitedApp().request('/text', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    await assertTooLarge(res)
    // Past the drain bound the rest is cancelled, never read.
    assert.ok(state.pulled <= LIMIT + 4 * 1024 * 1024 + 2 * 1024, `read ${state.pulled} bytes`)
    assert.ok(state.pulled < 6 * 1024 * 1024)
  })

  it('answers 413, not the validator 400, when JSON validation is what hits the limit', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(200) })
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big))
        controller.close()
      },
    })
    const res = await limitedApp().request('/validated', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit)
    await assertTooLarge(res)
  })

  it('lets bodies within the limit through, with and without Content-Length', async () => {
    const app = limitedApp()
    const text = JSON.stringify({ a: 'x'.repeat(40) })
    const withLength = await app.request('/json', {
      method: 'POST',
      body: text,
      headers: { 'content-length': String(text.length), 'content-type': 'application/json' },
    })
    assert.equal(withLength.status, 200)
    assert.deepEqual(await withLength.json(), { got: { a: 'x'.repeat(40) } })

    const { stream } = chunkedBody(4, 16)
    const chunked = await app.request('/text', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    assert.equal(chunked.status, 200)
    assert.deepEqual(await chunked.json(), { length: 64 })

    const validated = await app.request('/validated', {
      method: 'POST',
      body: JSON.stringify({ name: 'ok' }),
      headers: { 'content-type': 'application/json' },
    })
    assert.equal(validated.status, 200)
    assert.deepEqual(await validated.json(), { name: 'ok' })
  })

  it('never pulls from a body the handler does not read', async () => {
    const { stream, state } = chunkedBody(100, 16)
    const res = await limitedApp().request('/ignores-body', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    assert.equal(res.status, 200)
    assert.equal(state.pulled, 0)
  })

  it('reads the rest of an over-limit body (within bounds) before the 413, so the connection stays usable', async () => {
    const { stream, state } = chunkedBody(40, 16)
    await assertTooLarge(await limitedApp().request('/text', { method: 'POST', body: stream, duplex: 'half' } as RequestInit))
    assert.equal(state.pulled, 40 * 16)
  })

  it('refuses a compressed body with 415 and takes identity', async () => {
    const app = limitedApp()
    for (const encoding of ['gzip', 'br', 'deflate, gzip']) {
      const res = await app.request('/text', { method: 'POST', body: 'x', headers: { 'content-encoding': encoding, 'x-request-id': 'enc-1' } })
      assert.equal(res.status, 415, encoding)
      assert.equal(res.headers.get('content-type'), 'application/problem+json')
      assert.match((await res.json()).detail, /uncompressed/)
    }
    const identity = await app.request('/text', { method: 'POST', body: 'xyz', headers: { 'content-encoding': 'identity' } })
    assert.deepEqual(await identity.json(), { length: 3 })
  })

  it('never touches the body of GET requests or of bodies with a Content-Length within the limit', async () => {
    const app = limitedApp()
    BodySpy.reads = 0
    const get = await app.request(new BodySpy('http://localhost/get'))
    assert.equal(get.status, 200)
    const post = await app.request(
      new BodySpy('http://localhost/ignores-body', { method: 'POST', body: '{}', headers: { 'content-length': '2' } }),
    )
    assert.equal(post.status, 200)
    assert.equal(BodySpy.reads, 0)
  })

  it('is enforced per kind of route in the app: JSON routes MAX_JSON_BODY_SIZE, chat routes MAX_REQUEST_BODY_SIZE', async () => {
    const { app } = await testApp({ env: { MAX_JSON_BODY_SIZE: '100', MAX_REQUEST_BODY_SIZE: '300' } })
    const post = (path: string, bytes: number) =>
      app.request(path, { method: 'POST', body: JSON.stringify({ title: 'x'.repeat(Math.max(0, bytes - 13)) }), headers: { ...AUTH.alice, 'content-type': 'application/json' } })
    assert.equal((await post('/api/v1/conversations', 150)).status, 413, 'a JSON route takes 100 bytes')
    assert.notEqual((await post('/api/v1/chat', 150)).status, 413, 'a chat route takes 300')
    assert.equal((await post('/api/v1/chat', 350)).status, 413)
    const shipped = await testApp()
    assert.equal(shipped.config.server.max_json_body_size, 65_536)
    const big = await shipped.app.request('/api/v1/memory/store', {
      method: 'POST',
      body: JSON.stringify({ content: 'x'.repeat(70_000) }),
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
    })
    assert.equal(big.status, 413)
  })

  it('is enforced by the whole app under /api with MAX_REQUEST_BODY_SIZE, before authentication', async () => {
    const { app } = await testApp({ env: { MAX_REQUEST_BODY_SIZE: '64' } })
    const res = await app.request('/api/v1/me', {
      method: 'POST',
      body: 'x'.repeat(65),
      headers: { ...AUTH.alice, 'content-length': '65', 'x-request-id': 'too-big-1' },
    })
    await assertTooLarge(res)
    assert.equal(res.headers.get('x-request-id'), 'too-big-1')
  })
})
