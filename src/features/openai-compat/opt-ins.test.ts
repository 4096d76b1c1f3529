import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import OpenAI from 'openai'
import { createBuiltinProvider } from '../../providers/builtin/index.ts'
import type { ChatProvider, ChatRequest } from '../../providers/ports.ts'
import { AUTH, KEYS, testApp } from '../../../test/helpers/app.ts'
import { sdkClient } from '../../../test/helpers/openai.ts'

const hi = [{ role: 'user' as const, content: 'remember the deploy window' }]

/** The real built-in stand-in, recording what each request asked of it. */
function recordingBuiltin(): { provider: ChatProvider; requests: ChatRequest[] } {
  const builtin = createBuiltinProvider()
  const requests: ChatRequest[] = []
  return { requests, provider: { ...builtin, stream: (request) => (requests.push(request), builtin.stream(request)) } }
}

describe('the assistant features on /v1, opt-in per request', () => {
  it('X-Conversation-Id persists the exchange in the caller’s conversation, announced to subscribers', async () => {
    const { app, deps } = await testApp()
    const announced: string[] = []
    deps.events.subscribe('message.appended', (event) => announced.push(`${event.conversationId}:${event.message.role}`))
    const client = sdkClient(app, KEYS.alice, { headers: { 'X-Conversation-Id': 'editor-1' } })
    const { data, response } = await client.chat.completions.create({ model: 'builtin', messages: hi }).withResponse()
    assert.equal(response.headers.get('x-conversation-id'), 'editor-1')
    const streamed = await client.chat.completions.stream({ model: 'builtin', messages: [...hi, data.choices[0].message, { role: 'user', content: 'and again' }] }).finalChatCompletion()

    const res = await app.request('/api/v1/conversations/editor-1', { headers: AUTH.alice })
    assert.equal(res.status, 200)
    const stored = (await res.json()).messages as { role: string; content: string; status?: string }[]
    assert.deepEqual(
      stored.map((m) => [m.role, m.content]),
      [
        ['user', hi[0].content],
        ['assistant', data.choices[0].message.content],
        ['user', 'and again'],
        ['assistant', streamed.choices[0].message.content],
      ],
    )
    assert.deepEqual(announced, ['editor-1:user', 'editor-1:assistant', 'editor-1:user', 'editor-1:assistant'])
  })

  it('metadata.conversation_id does the same; another caller’s conversation is a 404; none without the opt-in', async () => {
    const { app } = await testApp()
    await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'builtin', messages: hi, metadata: { conversation_id: 'notes-7' } })
    const conversation = await (await app.request('/api/v1/conversations/notes-7', { headers: AUTH.alice })).json()
    assert.equal(conversation.messages.length, 2)

    const foreign = await sdkClient(app, KEYS.bob, { headers: { 'X-Conversation-Id': 'notes-7' } })
      .chat.completions.create({ model: 'builtin', messages: hi })
      .catch((error: unknown) => error)
    assert.ok(foreign instanceof OpenAI.NotFoundError)

    await sdkClient(app, KEYS.bob).chat.completions.create({ model: 'builtin', messages: hi })
    const list = await (await app.request('/api/v1/conversations', { headers: AUTH.bob })).json()
    assert.deepEqual(list.data, [])
  })

  it('X-Assistant-Memory: on adds the caller’s relevant memory notes as a system message; plain requests get none', async () => {
    const { provider, requests } = recordingBuiltin()
    const { app } = await testApp({ deps: { provider } })
    const stored = await app.request('/api/v1/memory/store', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'The deploy window is Tuesday 14:00 UTC' }),
    })
    assert.equal(stored.status, 201)
    await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'builtin', messages: hi })
    await sdkClient(app, KEYS.alice, { headers: { 'X-Assistant-Memory': 'on' } }).chat.completions.create({ model: 'builtin', messages: hi })
    await sdkClient(app, KEYS.bob, { headers: { 'X-Assistant-Memory': 'on' } }).chat.completions.create({ model: 'builtin', messages: hi })
    assert.deepEqual(requests[0].messages, [{ role: 'user', content: hi[0].content }])
    assert.equal(requests[1].messages[0].role, 'system')
    assert.match(requests[1].messages[0].content ?? '', /deploy window is Tuesday/)
    assert.deepEqual(requests[2].messages, [{ role: 'user', content: hi[0].content }], 'only the caller’s own notes')
  })

  it('passes the sampling fields to the provider: max_completion_tokens over max_tokens, stop as a list', async () => {
    const { provider, requests } = recordingBuiltin()
    const { app } = await testApp({ deps: { provider } })
    await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'builtin', messages: hi, temperature: 0.3, top_p: 0.9, max_tokens: 10, max_completion_tokens: 20, stop: 'END' })
    assert.deepEqual(
      [requests[0].model, requests[0].temperature, requests[0].topP, requests[0].maxTokens, requests[0].stop],
      ['builtin', 0.3, 0.9, 20, ['END']],
    )
  })

  it('is logged, measured and traced under the route templates /v1/chat/completions and /v1/models', async () => {
    const exporter = new InMemorySpanExporter()
    const tracer = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test')
    const { app, lines } = await testApp({ deps: { tracer } })
    const client = sdkClient(app, KEYS.alice)
    await client.models.list()
    await client.chat.completions.create({ model: 'builtin', messages: hi })
    const chunks = await client.chat.completions.create({ model: 'builtin', messages: hi, stream: true })
    for await (const _ of chunks);
    await new Promise((resolve) => setTimeout(resolve, 10))
    const routes = lines.filter((l) => l.msg === 'request completed').map((l) => l.route)
    assert.deepEqual(routes, ['/v1/models', '/v1/chat/completions', '/v1/chat/completions'])
    const metrics = await (await app.request('/metrics')).text()
    assert.match(metrics, /http_requests_total\{[^}]*route="\/v1\/chat\/completions"[^}]*\} 2/)
    assert.match(metrics, /http_requests_total\{[^}]*route="\/v1\/models"[^}]*\} 1/)
    assert.deepEqual(exporter.getFinishedSpans().map((span) => span.name).filter((name) => name.includes('/v1/')), ['GET /v1/models', 'POST /v1/chat/completions', 'POST /v1/chat/completions'])
  })
})
