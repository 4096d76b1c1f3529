import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { memoryLogger, testApp } from '../../../test/helpers/app.ts'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { json } from '../../pipeline/index.ts'
import { requestId } from '../request-id/index.ts'
import { notFound, recovery } from './index.ts'

const SECRET = 'database password is hunter2'

/** The whole app plus two failing routes (mounted through the full chain). */
async function failingApp() {
  const routes = new Hono<AppEnv>()
  routes.get('/boom', () => {
    throw new Error(SECRET)
  })
  routes.get('/reject', () => Promise.reject(new Error(SECRET)))
  return testApp({ routes })
}

/** Log lines that carry the handler's error (the error log, not the access log line). */
function errorLines(lines: Record<string, unknown>[]) {
  return lines.filter((line) => JSON.stringify(line).includes(SECRET))
}

describe('recovery', () => {
  for (const path of ['/boom', '/reject']) {
    it(`turns ${path === '/boom' ? 'a thrown error' : 'a rejected promise'} into a 500 problem without the message`, async () => {
      const { app, lines } = await failingApp()
      const res = await app.request(path, { headers: { 'x-request-id': 'fail-1' } })
      assert.equal(res.status, 500)
      assert.equal(res.headers.get('content-type'), 'application/problem+json')
      assert.equal(res.headers.get('x-request-id'), 'fail-1')
      const text = await res.text()
      assert.ok(!text.includes('hunter2'), text)
      assert.ok(!text.includes('at '), 'no stack in the body')
      const body = JSON.parse(text)
      assert.deepEqual(Object.keys(body).sort(), ['detail', 'request_id', 'status', 'title', 'type'])
      assert.equal(body.status, 500)
      assert.equal(body.request_id, 'fail-1')

      const logged = errorLines(lines)
      assert.equal(logged.length, 1, 'logged exactly once')
      const [line] = logged as [{ request_id: string; err: { message: string; stack: string } }]
      assert.equal(line.request_id, 'fail-1')
      assert.equal(line.err.message, SECRET)
      assert.match(line.err.stack, /index\.test\.ts/)
    })
  }

  it('keeps serving after a failure', async () => {
    const { app } = await failingApp()
    assert.equal((await app.request('/boom')).status, 500)
    assert.equal((await app.request('/reject')).status, 500)
    const live = await app.request('/live')
    assert.equal(live.status, 200)
  })

  it('does not log client errors as failures', async () => {
    const app = new Hono<AppEnv>()
    const { logger, lines } = memoryLogger()
    app.use(requestId())
    app.get('/missing', () => {
      throw problems.notFound('no such thing')
    })
    app.onError(recovery({ logger }))
    const res = await app.request('/missing')
    assert.equal(res.status, 404)
    assert.equal((await res.json()).detail, 'no such thing')
    assert.equal(lines.length, 0)
  })

  it("maps Hono's HTTPException to a problem, keeping 4xx messages and hiding 5xx ones", async () => {
    const app = new Hono<AppEnv>()
    app.use(requestId())
    app.get('/teapot', () => {
      throw new HTTPException(400, { message: 'bad thing' })
    })
    app.get('/upstream', () => {
      throw new HTTPException(502, { message: 'upstream secret' })
    })
    app.onError(recovery({ logger: memoryLogger().logger }))
    const client = await app.request('/teapot')
    assert.equal(client.status, 400)
    assert.equal((await client.json()).detail, 'bad thing')
    const server = await app.request('/upstream')
    assert.equal(server.status, 502)
    assert.ok(!(await server.text()).includes('upstream secret'))
  })

  it('answers 405 with Allow for a known path and a wrong method, 404 otherwise', async () => {
    const app = new Hono<AppEnv>()
    app.use(requestId())
    app.get('/things/:id', (c) => json(c, { id: c.req.param('id') }))
    app.post('/things/:id', (c) => json(c, { id: c.req.param('id') }))
    app.notFound(notFound(app))
    const wrong = await app.request('/things/7', { method: 'DELETE' })
    assert.equal(wrong.status, 405)
    assert.equal(wrong.headers.get('allow'), 'GET, POST, HEAD')
    const missing = await app.request('/other')
    assert.equal(missing.status, 404)
  })
})
