import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import { controlledProvider } from '../../../test/chat/helpers.ts'
import { AUTH, KEYS, testApp } from '../../../test/helpers/app.ts'
import { ManualClock } from '../../kernel/clock.ts'
import { sdkClient, ssePayloads, WEATHER_TOOL } from '../../../test/helpers/openai.ts'

const hello: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] },
]
const askWeather: ChatCompletionMessageParam[] = [{ role: 'user', content: '/tool get_weather {"city":"Paris"}' }]

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return chunks
}

describe('POST /v1/chat/completions through the openai SDK (built-in stand-in, shipped defaults)', () => {
  it('answers a plain completion with the chat.completion shape and usage', async () => {
    const { app } = await testApp()
    const completion = await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'builtin', messages: hello, temperature: 0.2, max_tokens: 50, user: 'u-1', stop: ['\n'] })
    assert.match(completion.id, /^chatcmpl-[0-9a-f]{32}$/)
    assert.equal(completion.object, 'chat.completion')
    assert.equal(completion.model, 'builtin')
    assert.ok(Number.isInteger(completion.created))
    assert.equal(completion.choices.length, 1)
    const [choice] = completion.choices
    assert.equal(choice.index, 0)
    assert.equal(choice.finish_reason, 'stop')
    assert.equal(choice.message.role, 'assistant')
    assert.match(choice.message.content ?? '', /^You said: "Hello there"\./)
    assert.equal(choice.message.tool_calls, undefined)
    const usage = completion.usage!
    assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0)
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens)
  })

  it('streams the same text, role first, one id throughout, exactly one usage chunk last (include_usage)', async () => {
    const { app } = await testApp()
    const client = sdkClient(app, KEYS.alice)
    const plain = await client.chat.completions.create({ model: 'builtin', messages: hello })
    const chunks = await collect(await client.chat.completions.create({ model: 'builtin', messages: hello, stream: true, stream_options: { include_usage: true } }))
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' })
    assert.ok(chunks.every((chunk) => chunk.id === chunks[0].id && chunk.created === chunks[0].created && chunk.object === 'chat.completion.chunk'))
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')
    assert.equal(text, plain.choices[0].message.content)
    assert.ok(chunks.length > 4, 'one chunk per word')
    const withUsage = chunks.filter((chunk) => chunk.usage)
    assert.equal(withUsage.length, 1)
    assert.equal(withUsage[0], chunks.at(-1))
    assert.deepEqual(withUsage[0].choices, [])
    assert.deepEqual(withUsage[0].usage, plain.usage)
    assert.equal(chunks.at(-2)!.choices[0].finish_reason, 'stop')
  })

  it('sends text/event-stream ending in [DONE], no usage chunk unless asked', async () => {
    const { app } = await testApp()
    const res = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'builtin', messages: [{ role: 'user', content: 'hi' }], stream: true, unknown_field: { ignored: true } }),
    })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
    const payloads = await ssePayloads(res)
    assert.equal(payloads.at(-1), '[DONE]')
    assert.equal(payloads.filter((p) => typeof p === 'object' && 'usage' in (p as object)).length, 0)
  })

  it("returns the client's tool call with finish_reason tool_calls, streamed and not, assembling into the same call", async () => {
    const { app } = await testApp()
    const client = sdkClient(app, KEYS.alice)
    const plain = await client.chat.completions.create({ model: 'builtin', messages: askWeather, tools: [WEATHER_TOOL] })
    assert.equal(plain.choices[0].finish_reason, 'tool_calls')
    assert.equal(plain.choices[0].message.content, null)
    const calls = plain.choices[0].message.tool_calls!
    assert.equal(calls.length, 1)
    assert.equal(calls[0].type, 'function')
    assert.match(calls[0].id, /^call_/)
    assert.deepEqual(calls[0].type === 'function' && calls[0].function, { name: 'get_weather', arguments: '{"city":"Paris"}' })

    const streamed = await client.chat.completions.stream({ model: 'builtin', messages: askWeather, tools: [WEATHER_TOOL] }).finalChatCompletion()
    assert.equal(streamed.choices[0].finish_reason, 'tool_calls')
    assert.deepEqual(streamed.choices[0].message.tool_calls, calls)
  })

  it('streams each tool call with a stable index and id, type and name in its first delta only', async () => {
    const { app } = await testApp()
    const chunks = await collect(await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'builtin', messages: askWeather, tools: [WEATHER_TOOL], stream: true }))
    const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
    assert.ok(deltas.length >= 2)
    assert.ok(deltas.every((delta) => delta.index === 0))
    assert.ok(deltas[0].id && deltas[0].type === 'function' && deltas[0].function?.name === 'get_weather')
    for (const later of deltas.slice(1)) assert.deepEqual(Object.keys(later).sort(), ['function', 'index'])
    assert.equal(deltas.map((delta) => delta.function?.arguments ?? '').join(''), '{"city":"Paris"}')
    assert.equal(chunks.at(-1)!.choices[0].finish_reason, 'tool_calls')
  })

  it('answers the follow-up that carries the tool result', async () => {
    const { app } = await testApp()
    const client = sdkClient(app, KEYS.alice)
    const first = await client.chat.completions.create({ model: 'builtin', messages: askWeather, tools: [WEATHER_TOOL] })
    const call = first.choices[0].message.tool_calls![0]
    const messages: ChatCompletionMessageParam[] = [
      ...askWeather,
      first.choices[0].message,
      { role: 'tool', tool_call_id: call.id, content: '{"temperature_c":21}' },
    ]
    const plain = await client.chat.completions.create({ model: 'builtin', messages, tools: [WEATHER_TOOL] })
    assert.equal(plain.choices[0].finish_reason, 'stop')
    assert.equal(plain.choices[0].message.content, 'The get_weather tool returned: {"temperature_c":21}')
    const streamed = await client.chat.completions.stream({ model: 'builtin', messages, tools: [WEATHER_TOOL] }).finalChatCompletion()
    assert.equal(streamed.choices[0].message.content, plain.choices[0].message.content)
  })

  it('does not run the server tools unless X-Assistant-Tools: on', async () => {
    const { app } = await testApp()
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: '/tool calculator {"expression":"6*7"}' }]
    const plain = await sdkClient(app, KEYS.alice).chat.completions.create({ model: 'builtin', messages })
    assert.doesNotMatch(plain.choices[0].message.content ?? '', /calculator tool returned/)
    assert.equal(plain.choices[0].message.tool_calls, undefined)

    const opted = sdkClient(app, KEYS.alice, { headers: { 'X-Assistant-Tools': 'on' } })
    const ran = await opted.chat.completions.create({ model: 'builtin', messages })
    assert.equal(ran.choices[0].finish_reason, 'stop')
    assert.match(ran.choices[0].message.content ?? '', /^The calculator tool returned: .*42/)
    const streamed = await opted.chat.completions.stream({ model: 'builtin', messages }).finalChatCompletion()
    assert.equal(streamed.choices[0].message.content, ran.choices[0].message.content)
  })

  it('sends heartbeats as SSE comments while the model is quiet (CHAT_HEARTBEAT_INTERVAL, default 15 s)', async () => {
    const model = controlledProvider()
    const clock = new ManualClock()
    const { app } = await testApp({ deps: { provider: model.provider, clock } })
    model.push('Hel')
    const res = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'controlled-1', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    })
    const reader = res.body!.getReader()
    let seen = ''
    const readUntil = async (text: string) => {
      while (!seen.includes(text)) {
        const { done, value } = await reader.read()
        if (done) assert.fail(`the stream ended before ${JSON.stringify(text)}: ${seen}`)
        seen += new TextDecoder().decode(value)
      }
    }
    await readUntil('"Hel"')
    assert.doesNotMatch(seen, /heartbeat/)
    await clock.advance(15_000)
    await readUntil(': heartbeat\n\n')
    model.push('lo')
    model.end()
    await readUntil('data: [DONE]')
    const text = seen
      .split('\n\n')
      .filter((frame) => frame.startsWith('data: {'))
      .map((frame) => JSON.parse(frame.slice(6)).choices[0]?.delta.content ?? '')
      .join('')
    assert.equal(text, 'Hello')
  })

  it('joins deltas that queue up behind a write into one chunk, losing and reordering nothing', async () => {
    const model = controlledProvider()
    const { app } = await testApp({ deps: { provider: model.provider } })
    model.push('Hel')
    const res = await app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'controlled-1', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    })
    // A burst within one event-loop turn: the stream writes it once.
    model.push('lo', ', ', 'wor', 'ld')
    model.end()
    const contents = ((await ssePayloads(res)) as any[]).flatMap((p) => (p.choices?.[0]?.delta?.content ? [p.choices[0].delta.content] : []))
    assert.equal(contents.join(''), 'Hello, world')
    assert.ok(contents.length < 5, `coalesced: ${JSON.stringify(contents)}`)
  })

  for (const stream of [false, true]) {
    it(`gives up on a silent model at REQUEST_TIMEOUT (default 30 s) with a 504 and cancels it (${stream ? 'streaming' : 'plain'})`, async () => {
      const model = controlledProvider()
      const clock = new ManualClock()
      const { app } = await testApp({ deps: { provider: model.provider, clock } })
      const pending = app.request('/v1/chat/completions', {
        method: 'POST',
        headers: { ...AUTH.alice, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'controlled-1', messages: [{ role: 'user', content: 'hi' }], stream }),
      })
      for (let spins = 0; model.requests.length === 0; spins++) {
        assert.ok(spins < 1_000, 'the request reached the model')
        await new Promise((resolve) => setImmediate(resolve))
      }
      await clock.advance(31_000)
      const res = await pending
      assert.equal(res.status, 504)
      assert.equal((await res.json()).error.code, 'timeout')
      assert.equal(model.requests[0].signal.aborted, true, 'the upstream call was cancelled')
    })
  }
})
