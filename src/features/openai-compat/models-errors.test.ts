import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import OpenAI from 'openai'
import type { AppEnv } from '../../env.ts'
import { loadConfig } from '../../config/index.ts'
import { createOpenAIProvider } from '../../providers/openai/index.ts'
import { AUTH, KEYS, testApp } from '../../../test/helpers/app.ts'
import { sdkClient } from '../../../test/helpers/openai.ts'
import { offeredModels } from './models.ts'

const hi = [{ role: 'user' as const, content: 'hi' }]

/** What the SDK raised, for assertions on its class and on our error object. */
async function raised(call: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call()
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error
    throw error
  }
  assert.fail('expected the SDK to raise an APIError')
}

function assertOpenAIError(error: InstanceType<typeof OpenAI.APIError>, status: number) {
  assert.equal(error.status, status)
  const body = error.error as Record<string, unknown>
  assert.deepEqual(Object.keys(body).sort(), ['code', 'message', 'param', 'request_id', 'type'])
  assert.equal(typeof body.message, 'string')
  assert.equal(body.request_id, error.requestID)
  assert.ok(error.requestID)
  return body
}

describe('GET /v1/models', () => {
  it('lists the built-in stand-in alone, and retrieves it', async () => {
    const { app } = await testApp()
    const client = sdkClient(app, KEYS.alice)
    const page = await client.models.list()
    assert.deepEqual(page.data.map((m) => [m.id, m.object, m.owned_by]), [['builtin', 'model', 'assistant-server']])
    assert.ok(Number.isInteger(page.data[0].created))
    assert.deepEqual(await client.models.retrieve('builtin'), page.data[0])
    assertOpenAIError(await raised(() => client.models.retrieve('gpt-4o')), 404)
  })

  it('offers ai.model then AI_MODELS for an upstream, ids with a slash included', async () => {
    // About the setting: AI_MODELS names more upstream models (the provider is never called here).
    const { app } = await testApp({
      env: { AI_MODELS: 'org/model-b, gpt-a' },
      deps: { provider: createOpenAIProvider({ baseUrl: 'http://127.0.0.1:9/v1', model: 'gpt-a' }) },
    })
    const client = sdkClient(app, KEYS.alice)
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['gpt-a', 'org/model-b'])
    assert.equal((await client.models.retrieve('org/model-b')).id, 'org/model-b')
    const unknown = await raised(() => client.chat.completions.create({ model: 'gpt-z', messages: hi }))
    assert.ok(unknown instanceof OpenAI.NotFoundError)
    assert.deepEqual({ ...assertOpenAIError(unknown, 404), request_id: null }, {
      message: 'The model `gpt-z` does not exist or you do not have access to it.',
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
      request_id: null,
    })
  })

  it('reads AI_MODELS as a comma-separated list', async () => {
    assert.deepEqual((await loadConfig({ env: { AI_MODELS: 'a, b/c' } })).ai.models, ['a', 'b/c'])
    assert.deepEqual(offeredModels({ name: 'builtin', defaultModel: 'builtin' }, ['x'], 0).ids, ['builtin'])
  })
})

describe('/v1 errors in OpenAI shape, raised by the SDK itself', () => {
  it('AuthenticationError for a bad or missing key, with WWW-Authenticate', async () => {
    const { app } = await testApp()
    const bad = await raised(() => sdkClient(app, 'not-a-key-0123456789').models.list())
    assert.ok(bad instanceof OpenAI.AuthenticationError)
    const body = assertOpenAIError(bad, 401)
    assert.equal(body.code, 'invalid_api_key')
    assert.match(bad.headers?.get('www-authenticate') ?? '', /^Bearer/)
    const res = await app.request('/v1/chat/completions', { method: 'POST' })
    assert.equal(res.status, 401)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.equal((await res.json()).error.request_id, res.headers.get('x-request-id'))
  })

  it('BadRequestError naming the field: no messages, a non-text part, a bad conversation id', async () => {
    const { app } = await testApp()
    const client = sdkClient(app, KEYS.alice)
    const empty = await raised(() => client.chat.completions.create({ model: 'builtin', messages: [] }))
    assert.ok(empty instanceof OpenAI.BadRequestError)
    assert.equal(assertOpenAIError(empty, 400).param, 'messages')
    const image = await raised(() =>
      client.chat.completions.create({ model: 'builtin', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] }] }),
    )
    assert.equal(assertOpenAIError(image, 400).param, 'messages[0].content[0]')
    const id = await raised(() => client.chat.completions.create({ model: 'builtin', messages: hi, metadata: { conversation_id: 'has spaces' } }))
    assert.equal(assertOpenAIError(id, 400).param, 'metadata.conversation_id')
    const res = await app.request('/v1/chat/completions', { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: '{"model":' })
    assert.equal(res.status, 400)
    assert.equal((await res.json()).error.type, 'invalid_request_error')
  })

  it('RateLimitError with Retry-After and the X-RateLimit headers', async () => {
    // About the limiter: on, with a burst of 2, so the third request is refused.
    const { app } = await testApp({ env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '2' } })
    const client = sdkClient(app, KEYS.alice)
    const ok = await client.models.list().withResponse()
    assert.equal(ok.response.headers.get('x-ratelimit-limit'), '2')
    await client.models.list()
    const limited = await raised(() => client.models.list())
    assert.ok(limited instanceof OpenAI.RateLimitError)
    assert.equal(assertOpenAIError(limited, 429).code, 'rate_limit_exceeded')
    assert.match(limited.headers?.get('retry-after') ?? '', /^\d+$/)
    assert.equal(limited.headers?.get('x-ratelimit-remaining'), '0')
  })

  it('404 for unknown /v1 routes, 405 with Allow, 413 over the body limit, 502 for an upstream failure: all OpenAI-shaped', async () => {
    const { app } = await testApp()
    const client = sdkClient(app, KEYS.alice)
    const unknown = await raised(() => client.get('/embeddings'))
    assert.ok(unknown instanceof OpenAI.NotFoundError)
    assertOpenAIError(unknown, 404)
    const wrongMethod = await app.request('/v1/models', { method: 'DELETE', headers: AUTH.alice })
    assert.equal(wrongMethod.status, 405)
    assert.match(wrongMethod.headers.get('allow') ?? '', /GET/)
    assert.ok((await wrongMethod.json()).error.message)
    const huge = JSON.stringify({ model: 'builtin', messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] })
    const tooLarge = await app.request('/v1/chat/completions', { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: huge })
    assert.equal(tooLarge.status, 413)
    assert.equal((await tooLarge.json()).error.type, 'invalid_request_error')
    for (const stream of [false, true]) {
      const failed = await raised(() => client.chat.completions.create({ model: 'builtin', messages: [{ role: 'user', content: '/fail' }], stream }))
      assert.ok(failed instanceof OpenAI.InternalServerError, 'a failure before the first chunk is a real status')
      assert.deepEqual([failed.status, (failed.error as { type: string }).type, (failed.error as { code: string }).code], [502, 'server_error', 'upstream_error'])
    }
  })

  it('a bug under /v1 is a 500 in OpenAI shape without its message; /api keeps problem+json', async () => {
    const routes = new Hono<AppEnv>()
      .get('/v1/boom', () => {
        throw new Error('secret internals')
      })
      .get('/api/v1/boom', () => {
        throw new Error('secret internals')
      })
    const { app } = await testApp({ routes })
    const res = await app.request('/v1/boom', { headers: AUTH.alice })
    assert.equal(res.status, 500)
    const text = await res.text()
    assert.doesNotMatch(text, /secret internals/)
    assert.deepEqual(JSON.parse(text).error.type, 'server_error')
    const api = await app.request('/api/v1/boom', { headers: AUTH.alice })
    assert.match(api.headers.get('content-type') ?? '', /^application\/problem\+json/)
    const health = await app.request('/v1-not-ours')
    assert.match(health.headers.get('content-type') ?? '', /^application\/problem\+json/)
  })
})
