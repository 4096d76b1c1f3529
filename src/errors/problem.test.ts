import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../env.ts'
import { AUTH, testApp } from '../../test/helpers/app.ts'
import { json } from '../pipeline/index.ts'
import { validate } from '../middleware/validation/index.ts'
import { toProblem } from './problem.ts'
import { HttpProblem, problemBody, problems } from '../kernel/problem.ts'

/** The whole app plus routes that fail in each remaining way. */
async function appWithFailures() {
  const routes = new Hono<AppEnv>()
  routes.post('/api/v1/echo', validate('json', z.object({ text: z.string() })), (c) => json(c, c.req.valid('json')))
  routes.get('/api/v1/bug', () => {
    throw new TypeError('cannot read properties of undefined (secret)')
  })
  routes.get('/api/v1/maintenance', () => {
    throw problems.unavailable('The store is not reachable', 7)
  })
  let release: (() => void) | undefined
  routes.get('/api/v1/slow', async (c) => {
    await new Promise<void>((resolve) => (release = resolve))
    return json(c, {})
  })
  const built = await testApp({
    env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '100', MAX_REQUEST_BODY_SIZE: '32', REQUEST_TIMEOUT: '20ms' },
    routes,
  })
  return { ...built, release: () => release?.() }
}

describe('problem responses', () => {
  it('every error status is application/problem+json with type, title, status, detail and request_id', async () => {
    const { app, release } = await appWithFailures()
    const cases: [number, string, RequestInit][] = [
      [400, '/api/v1/echo', { method: 'POST', body: '{"text": 1}', headers: { ...AUTH.alice, 'content-type': 'application/json' } }],
      [401, '/api/v1/me', {}],
      [404, '/api/v1/nothing-here', { headers: AUTH.alice }],
      [405, '/health', { method: 'PUT' }],
      [413, '/api/v1/echo', { method: 'POST', body: '{"text": "' + 'x'.repeat(40) + '"}', headers: { ...AUTH.alice, 'content-type': 'application/json' } }],
      [500, '/api/v1/bug', { headers: AUTH.alice }],
      [503, '/api/v1/maintenance', { headers: AUTH.alice }],
      [504, '/api/v1/slow', { headers: AUTH.alice }],
    ]
    for (const [status, path, init] of cases) {
      const id = `problem-${status}`
      const res = await app.request(path, { ...init, headers: { ...(init.headers as Record<string, string>), 'x-request-id': id } })
      assert.equal(res.status, status, `${init.method ?? 'GET'} ${path}`)
      assert.equal(res.headers.get('content-type'), 'application/problem+json', String(status))
      const body = await res.json()
      assert.equal(body.type, 'about:blank')
      assert.equal(typeof body.title, 'string')
      assert.ok(body.title.length > 0)
      assert.equal(body.status, status)
      assert.equal(typeof body.detail, 'string')
      assert.equal(body.request_id, id)
      if (status >= 500) assert.ok(!JSON.stringify(body).includes('secret'))
    }
    release()

    // 429 with a burst of one.
    const { app: tight } = await testApp({ env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '1' } })
    await tight.request('/api/v1/me', { headers: AUTH.alice })
    const limited = await tight.request('/api/v1/me', { headers: { ...AUTH.alice, 'x-request-id': 'problem-429' } })
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('content-type'), 'application/problem+json')
    const body = await limited.json()
    assert.deepEqual(Object.keys(body).sort(), ['detail', 'request_id', 'status', 'title', 'type'])
    assert.equal(body.request_id, 'problem-429')
  })

  it('carries the problem headers (Retry-After on 503) with the response', async () => {
    const { app } = await appWithFailures()
    const res = await app.request('/api/v1/maintenance', { headers: AUTH.alice })
    assert.equal(res.headers.get('retry-after'), '7')
  })
})

describe('toProblem', () => {
  it('keeps an HttpProblem, hides an unknown error behind a bare 500', () => {
    const problem = problems.conflict('version mismatch')
    assert.equal(toProblem(problem), problem)
    const hidden = toProblem(new Error('secret'))
    assert.equal(hidden.status, 500)
    assert.ok(!JSON.stringify(problemBody(hidden, 'r')).includes('secret'))
    assert.equal(toProblem('a string').status, 500)
  })

  it('puts extensions in the body and the request id last', () => {
    const body = problemBody(new HttpProblem(400, { detail: 'bad', extensions: { errors: [{ path: 'a', message: 'm' }] } }), 'rid')
    assert.deepEqual(body, {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'bad',
      errors: [{ path: 'a', message: 'm' }],
      request_id: 'rid',
    })
  })
})
