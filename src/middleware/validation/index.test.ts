import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import { z } from 'zod'
import { memoryLogger } from '../../../test/helpers/app.ts'
import type { AppEnv } from '../../env.ts'
import { json } from '../../pipeline/index.ts'
import { recovery } from '../recovery/index.ts'
import { requestId } from '../request-id/index.ts'
import { fieldErrors, jsonDepthExceeds, MAX_JSON_DEPTH, validate } from './index.ts'

const message = z.object({
  title: z.string().min(1),
  messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.string() })).min(1),
  temperature: z.number().min(0).max(2).optional(),
})

function validatedApp() {
  const { logger, lines } = memoryLogger()
  const app = new Hono<AppEnv>()
  app.use(requestId())
  app.post('/chat', validate('json', message), (c) => json(c, c.req.valid('json')))
  app.get('/search', validate('query', z.object({ limit: z.coerce.number().int().max(100) })), (c) => json(c, c.req.valid('query')))
  app.onError(recovery({ logger }))
  return { app, lines }
}

function post(body: string, contentType = 'application/json') {
  return { method: 'POST', body, headers: { 'content-type': contentType, 'x-request-id': 'v-1' } }
}

async function assertBadRequest(res: Response) {
  assert.equal(res.status, 400)
  assert.equal(res.headers.get('content-type'), 'application/problem+json')
  const body = await res.json()
  assert.equal(body.status, 400)
  assert.equal(body.title, 'Bad Request')
  assert.equal(body.request_id, 'v-1')
  return body
}

describe('validate', () => {
  it('lets a valid body through, parsed', async () => {
    const { app } = validatedApp()
    const input = { title: 't', messages: [{ role: 'user', content: 'hi' }] }
    const res = await app.request('/chat', post(JSON.stringify(input)))
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), input)
  })

  it('answers 400 listing every invalid field with its path and message', async () => {
    const { app, lines } = validatedApp()
    const res = await app.request(
      '/chat',
      post(JSON.stringify({ title: '', messages: [{ role: 'user', content: 'ok' }, { role: 'robot' }], temperature: 7 })),
    )
    const body = await assertBadRequest(res)
    const paths = body.errors.map((error: { path: string }) => error.path).sort()
    assert.deepEqual(paths, ['messages.1.content', 'messages.1.role', 'temperature', 'title'])
    for (const error of body.errors) assert.ok(typeof error.message === 'string' && error.message.length > 0)
    for (const path of paths) assert.ok(body.detail.includes(path), `detail names ${path}`)
    assert.equal(lines.length, 0, 'bad input is not logged as a failure')
  })

  it('answers malformed JSON with 400, not 500', async () => {
    const { app } = validatedApp()
    for (const text of ['{"title": "x",', 'not json', '']) {
      const body = await assertBadRequest(await app.request('/chat', post(text)))
      assert.match(body.detail, /JSON/i)
    }
  })

  it('answers a non-JSON content type with 400 naming the missing fields', async () => {
    const { app } = validatedApp()
    const body = await assertBadRequest(await app.request('/chat', post('title=x', 'application/x-www-form-urlencoded')))
    assert.deepEqual(body.errors.map((error: { path: string }) => error.path).sort(), ['messages', 'title'])
  })

  it('validates query strings the same way', async () => {
    const { app } = validatedApp()
    const res = await app.request('/search?limit=500', { headers: { 'x-request-id': 'v-1' } })
    const body = await assertBadRequest(res)
    assert.match(body.detail, /query string: limit/)
    assert.deepEqual((await app.request('/search?limit=5')).status, 200)
  })

  it('formats zod issue paths as dotted strings', () => {
    assert.deepEqual(fieldErrors([{ path: ['a', 0, 'b'], message: 'm' }, { path: [], message: 'root' }]), [
      { path: 'a.0.b', message: 'm' },
      { path: '', message: 'root' },
    ])
  })

  it('refuses JSON nesting deeper than MAX_JSON_DEPTH with 400 before parsing it', async () => {
    const { app } = validatedApp()
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1)
    const body = await assertBadRequest(await app.request('/chat', post(deep)))
    assert.match(body.detail, /nests deeper than 64 levels/)
    // Brackets inside strings do not count.
    const valid = { title: '['.repeat(500), messages: [{ role: 'user', content: '{"a":[[[['.repeat(100) }] }
    assert.equal((await app.request('/chat', post(JSON.stringify(valid)))).status, 200)
  })
})

describe('jsonDepthExceeds', () => {
  it('counts objects and arrays, skips strings and escapes, and stops at the limit', () => {
    assert.equal(jsonDepthExceeds('{"a":[1,{"b":[]}]}', 4), false)
    assert.equal(jsonDepthExceeds('{"a":[1,{"b":[]}]}', 3), true)
    // Escaped quotes and backslashes inside strings: built by JSON.stringify, so the escapes are real.
    assert.equal(jsonDepthExceeds(JSON.stringify(['"[[[[', '\\', '\\"[[[']), 1), false)
    assert.equal(jsonDepthExceeds('"[[[[[["', 0), false)
    assert.equal(jsonDepthExceeds('[]', 0), true)
    // 8 MB of brackets, as in the report: refused at the 65th, long before the end.
    assert.equal(jsonDepthExceeds('['.repeat(8_000_000), MAX_JSON_DEPTH), true)
  })
})
