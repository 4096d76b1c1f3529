import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import { AUTH, testApp } from '../../../test/helpers/app.ts'
import { appWith, FORMS, type Form } from '../../../test/helpers/forms.ts'
import type { AppEnv } from '../../env.ts'
import { ManualClock } from '../../kernel/clock.ts'
import { json } from '../../pipeline/index.ts'
import { requestId } from '../request-id/index.ts'
import { validate } from '../validation/index.ts'
import { z } from 'zod'
import { timeout } from './index.ts'

/** A handler that answers only when the test lets it. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

function timedApp(form: Form, clock: ManualClock, ms = 1000) {
  const slow = gate()
  const app = appWith(form, [requestId(), { middleware: timeout({ ms, clock }), placement: { except: (path) => path.endsWith('/stream') } }], (app) => {
    app.get('/fast', (c) => json(c, { ok: true }))
    app.get('/async', async (c) => c.json({ ok: true }))
    app.get('/slow', async (c) => {
      await slow.opened
      return c.json({ ok: true })
    })
    app.post('/upload', validate('json', z.object({ text: z.string() })), (c) => c.json({ ok: true }))
    app.get('/boom', async () => {
      throw new Error('handler failed')
    })
  })
  return { app, slow }
}

for (const form of FORMS) {
  describe(`timeout (${form})`, () => {
    it('answers 504 with the request id when the handler is over budget', async () => {
      const clock = new ManualClock()
      const { app, slow } = timedApp(form, clock)
      const pending = app.request('/slow', { headers: { 'x-request-id': 'slow-1' } })
      await clock.advance(1100)
      const res = await pending
      slow.open()
      assert.equal(res.status, 504)
      assert.equal(res.headers.get('content-type'), 'application/problem+json')
      assert.equal(res.headers.get('x-request-id'), 'slow-1')
      const body = await res.json()
      assert.equal(body.status, 504)
      assert.equal(body.title, 'Gateway Timeout')
      assert.equal(body.request_id, 'slow-1')
    })

    it('answers 408 (and closes) when the budget ends while the body is still arriving', async () => {
      const clock = new ManualClock()
      const { app } = timedApp(form, clock)
      // A body that sends its first bytes and then stalls: a slow client, not a slow server.
      const body = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode('{"text":"')) })
      const pending = app.request('/upload', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit)
      await clock.advance(1100)
      const res = await pending
      assert.equal(res.status, 408)
      assert.equal(res.headers.get('connection'), 'close')
      assert.equal((await res.json()).title, 'Request Timeout')
    })

    it('lets a handler that answers within the budget through', async () => {
      const clock = new ManualClock()
      const { app, slow } = timedApp(form, clock)
      const pending = app.request('/slow')
      await clock.advance(900)
      slow.open()
      assert.equal((await pending).status, 200)
      assert.equal((await app.request('/async')).status, 200)
    })

    it('passes fast responses through with one shared timer, gone once nothing is pending', async () => {
      const clock = new ManualClock()
      const { app } = timedApp(form, clock, 10_000)
      for (let i = 0; i < 20; i++) assert.equal((await app.request('/async')).status, 200)
      assert.equal(clock.pending, 1, 'twenty requests shared one sweep timer')
      await clock.advance(10_000)
      assert.equal(clock.pending, 0, 'the sweep stops when the list is empty')
    })

    it('times out each of several overlapping requests on its own deadline', async () => {
      const clock = new ManualClock()
      const { app, slow } = timedApp(form, clock, 1000)
      const first = app.request('/slow')
      await clock.advance(500)
      const second = app.request('/slow')
      await clock.advance(600)
      assert.equal((await first).status, 504)
      let secondDone = false
      void Promise.resolve(second).then(() => (secondDone = true))
      await clock.advance(0)
      assert.equal(secondDone, false, 'the later request keeps its own budget')
      await clock.advance(500)
      assert.equal((await second).status, 504)
      slow.open()
    })

    it('lets a handler error through as itself, not as a timeout', async () => {
      const { app } = timedApp(form, new ManualClock())
      const res = await app.request('/boom')
      assert.equal(res.status, 500)
    })
  })
}

/**
 * The whole app with one route at `path` that answers only when released, a request to it started,
 * and the clock moved 100 ms past its entry into the handler (REQUEST_TIMEOUT is 20 ms here).
 */
async function heldRequest(path: string) {
  const clock = new ManualClock()
  const held = gate()
  const entered = gate()
  const routes = new Hono<AppEnv>().get(path, async (c) => {
    entered.open()
    await held.opened
    return json(c, { late: true })
  })
  const { app } = await testApp({ env: { REQUEST_TIMEOUT: '20ms' }, routes, deps: { clock } })
  const pending = app.request(path, { headers: AUTH.alice })
  // Authentication hashes the key first (real crypto, not a microtask).
  await entered.opened
  await clock.advance(100)
  return { pending, release: held.open }
}

describe('timeout in the app', () => {
  it('applies REQUEST_TIMEOUT to /api routes', async () => {
    const { pending, release } = await heldRequest('/api/v1/held')
    const res = await pending
    release()
    assert.equal(res.status, 504)
    assert.equal((await res.json()).request_id, res.headers.get('x-request-id'))
  })

  it('leaves streaming routes to their own budgets', async () => {
    const { pending, release } = await heldRequest('/api/v1/held/stream')
    release()
    assert.equal((await pending).status, 200)
  })
})
