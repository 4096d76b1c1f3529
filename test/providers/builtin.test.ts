import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createBuiltinProvider } from '../../src/providers/builtin/index.ts'
import { createProvider } from '../../src/providers/index.ts'
import { loadConfig } from '../../src/config/index.ts'
import { ManualClock } from '../../src/kernel/clock.ts'
import { ProviderError, type ChatMessage, type ChatRequest, type ProviderEvent } from '../../src/providers/ports.ts'

function request(messages: ChatMessage[], overrides: Partial<ChatRequest> = {}): ChatRequest {
  return { messages, signal: new AbortController().signal, ...overrides }
}

async function collect(stream: AsyncIterable<ProviderEvent>): Promise<ProviderEvent[]> {
  const events: ProviderEvent[] = []
  for await (const event of stream) events.push(event)
  return events
}

function text(events: ProviderEvent[]): string {
  return events.map((event) => (event.type === 'text' ? event.delta : '')).join('')
}

const fast = createBuiltinProvider({ chunkDelayMs: 0 })

describe('built-in provider', () => {
  it('is deterministic: the same conversation gives the same events', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be nice' },
      { role: 'user', content: 'What is Hono?' },
    ]
    const first = await collect(fast.stream(request(messages)))
    const second = await collect(createBuiltinProvider({ chunkDelayMs: 0 }).stream(request(messages)))
    assert.deepEqual(first, second)
  })

  it('quotes the last user message, streamed in several chunks, then one finish with usage', async () => {
    const events = await collect(
      fast.stream(
        request([
          { role: 'user', content: 'an older message' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: 'héllo 👋 world' },
        ]),
      ),
    )
    const reply = text(events)
    assert.match(reply, /"héllo 👋 world"/)
    assert.doesNotMatch(reply, /older/)
    const texts = events.filter((event) => event.type === 'text')
    assert.ok(texts.length >= 5, `expected several chunks, got ${texts.length}`)
    const finish = events.at(-1)
    assert.ok(finish?.type === 'finish')
    assert.equal(finish.reason, 'stop')
    assert.equal(finish.model, 'builtin')
    assert.ok(finish.usage && finish.usage.completionTokens === Math.ceil(reply.length / 4))
    assert.equal(finish.usage.totalTokens, finish.usage.promptTokens + finish.usage.completionTokens)
    assert.equal(events.filter((event) => event.type === 'finish').length, 1)
  })

  it('reports itself as the model, whatever the request or AI_MODEL names: it is what answered', async () => {
    const events = await collect(fast.stream(request([{ role: 'user', content: 'hi' }], { model: 'gpt-4o' })))
    const finish = events.at(-1)
    assert.ok(finish?.type === 'finish')
    assert.equal(finish.model, 'builtin')
    const configured = createProvider((await loadConfig({ env: { AI_MODEL: 'gpt-4o' } })).ai)
    assert.equal(configured.defaultModel, 'builtin')
    const afterTool = (await collect(configured.stream(request([{ role: 'user', content: '/tool calculator {}' }], { model: 'gpt-4o' })))).at(-1)
    assert.ok(afterTool?.type === 'finish')
    assert.equal(afterTool.model, 'builtin')
  })

  it('paces its chunks by chunk_delay on the clock', async () => {
    const clock = new ManualClock()
    const paced = createBuiltinProvider({ chunkDelayMs: 15, clock })
    const iterator = paced.stream(request([{ role: 'user', content: 'hi' }]))[Symbol.asyncIterator]()
    const first = iterator.next()
    let arrived = false
    void first.then(() => (arrived = true))
    await clock.advance(14)
    assert.equal(arrived, false)
    await clock.advance(1)
    assert.deepEqual((await first).value, { type: 'text', delta: 'You ' })
    await iterator.return?.()
  })

  it('asks for a tool call with /tool name {json}', async () => {
    const events = await collect(fast.stream(request([{ role: 'user', content: '/tool calculator {"expression":"2+2"}' }])))
    assert.equal(events.length, 2)
    const [call, finish] = events
    assert.ok(call.type === 'tool_call')
    assert.equal(call.call.name, 'calculator')
    assert.equal(call.call.arguments, '{"expression":"2+2"}')
    assert.match(call.call.id, /^call_[0-9a-f]{8}$/)
    assert.ok(finish.type === 'finish')
    assert.equal(finish.reason, 'tool_calls')
  })

  it('answers with the tool result once the conversation ends with it', async () => {
    const events = await collect(
      fast.stream(
        request([
          { role: 'user', content: '/tool calculator {"expression":"2+2"}' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_x', name: 'calculator', arguments: '{"expression":"2+2"}' }] },
          { role: 'tool', content: '{"result":4}', tool_call_id: 'call_x' },
        ]),
      ),
    )
    assert.equal(text(events), 'The calculator tool returned: {"result":4}')
    assert.equal(events.at(-1)?.type, 'finish')
  })

  it('declines a tool that the request does not offer', async () => {
    const events = await collect(
      fast.stream(
        request([{ role: 'user', content: '/tool rm_rf {}' }], {
          tools: [{ name: 'calculator', description: 'x', parameters: { type: 'object' } }],
        }),
      ),
    )
    assert.equal(events.some((event) => event.type === 'tool_call'), false)
    assert.match(text(events), /rm_rf.*not available.*calculator/)
  })

  it('fails with a ProviderError on /fail', async () => {
    await assert.rejects(collect(fast.stream(request([{ role: 'user', content: '/fail' }]))), ProviderError)
  })

  it('stops promptly with an AbortError when the signal aborts mid-stream, even with a long pace', async () => {
    const clock = new ManualClock()
    const slow = createBuiltinProvider({ chunkDelayMs: 10_000, clock })
    const controller = new AbortController()
    const pending = collect(slow.stream(request([{ role: 'user', content: 'hi' }], { signal: controller.signal })))
    await clock.advance(0)
    assert.equal(clock.pending, 1, 'a 10 s pause is pending')
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    assert.equal(clock.pending, 0, 'its timer was cancelled')
  })

  it('stops between chunks when aborted with no pacing', async () => {
    const controller = new AbortController()
    const seen: ProviderEvent[] = []
    await assert.rejects(
      (async () => {
        for await (const event of fast.stream(request([{ role: 'user', content: 'one two three four' }], { signal: controller.signal }))) {
          seen.push(event)
          controller.abort()
        }
      })(),
      { name: 'AbortError' },
    )
    assert.equal(seen.length, 1)
  })

  it('is what createProvider returns when ai.base_url is null', async () => {
    const config = await loadConfig({ env: {} })
    const provider = createProvider(config.ai)
    assert.equal(provider.name, 'builtin')
    assert.equal(provider.health, undefined)
    const openai = createProvider({ ...config.ai, base_url: 'http://127.0.0.1:1/v1' })
    assert.equal(openai.name, 'openai')
    assert.equal(openai.health?.name, 'ai_service')
  })
})
