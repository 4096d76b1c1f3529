import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { Hono } from 'hono'
import { AUTH, memoryLogger, testApp } from '../../../test/helpers/app.ts'
import type { AppEnv } from '../../env.ts'
import { json } from '../../http/response.ts'
import { recovery } from '../recovery/index.ts'
import { requestId } from '../request-id/index.ts'
import { responseHeaders } from '../response-headers/index.ts'
import { timeout } from './index.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function timedApp(ms = 20) {
  const app = new Hono<AppEnv>()
  app.use(responseHeaders(), requestId(), timeout({ ms, exempt: (path) => path.endsWith('/stream') }))
  app.get('/fast', (c) => json(c, { ok: true }))
  app.get('/slow', async (c) => {
    await sleep(ms * 4)
    return json(c, { ok: true })
  })
  app.get('/chat/stream', async (c) => {
    await sleep(ms * 4)
    return json(c, { streamed: true })
  })
  app.get('/boom', async () => {
    throw new Error('handler failed')
  })
  app.onError(recovery({ logger: memoryLogger().logger }))
  return app
}

describe('timeout', () => {
  const realSetTimeout = globalThis.setTimeout
  const realClearTimeout = globalThis.clearTimeout
  afterEach(() => {
    globalThis.setTimeout = realSetTimeout
    globalThis.clearTimeout = realClearTimeout
  })

  it('answers 504 with the request id when the handler is over budget', async () => {
    const res = await timedApp().request('/slow', { headers: { 'x-request-id': 'slow-1' } })
    assert.equal(res.status, 504)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    assert.equal(res.headers.get('x-request-id'), 'slow-1')
    const body = await res.json()
    assert.equal(body.status, 504)
    assert.equal(body.title, 'Gateway Timeout')
    assert.equal(body.request_id, 'slow-1')
  })

  it('does not bound exempt (streaming) paths', async () => {
    const res = await timedApp().request('/chat/stream')
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { streamed: true })
  })

  it('passes fast responses through with one shared timer that never holds the process open', async () => {
    const timers: { unref: boolean }[] = []
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      const handle = realSetTimeout(fn, ms)
      const record = { unref: false }
      timers.push(record)
      const unref = handle.unref.bind(handle)
      handle.unref = () => {
        record.unref = true
        return unref()
      }
      return handle
    }) as typeof setTimeout
    const app = timedApp(10_000)
    for (let i = 0; i < 20; i++) assert.equal((await app.request('/fast')).status, 200)
    assert.equal(timers.length, 1, 'twenty requests shared one sweep timer')
    assert.ok(timers.every((timer) => timer.unref), 'the sweep timer is unref-ed')
  })

  it('times out each of several overlapping requests on its own deadline, fast ones unaffected', async () => {
    const app = timedApp(40)
    const started = Date.now()
    const first = app.request('/slow')
    await sleep(15)
    const fast = await app.request('/fast')
    assert.equal(fast.status, 200)
    const second = app.request('/slow')
    const [a, b] = await Promise.all([first, second])
    assert.equal(a.status, 504)
    assert.equal(b.status, 504)
    // The second started ~15 ms later; it must not have been cut at the first one's deadline.
    assert.ok(Date.now() - started >= 40 + 15, 'the later request kept its own budget')
  })

  it('lets a handler error through as itself, not as a timeout', async () => {
    const res = await timedApp().request('/boom')
    assert.equal(res.status, 500)
  })

  it('applies REQUEST_TIMEOUT to /api routes of the whole app', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const routes = new Hono<AppEnv>().get('/api/v1/held', async (c) => {
      await held
      return json(c, { late: true })
    })
    const { app } = await testApp({ env: { REQUEST_TIMEOUT: '20ms' }, routes })
    const res = await app.request('/api/v1/held', { headers: AUTH.alice })
    release()
    assert.equal(res.status, 504)
    assert.equal((await res.json()).request_id, res.headers.get('x-request-id'))
  })
})
