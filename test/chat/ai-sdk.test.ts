import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  AbstractChat,
  DefaultChatTransport,
  parseJsonEventStream,
  readUIMessageStream,
  uiMessageChunkSchema,
  type ChatInit,
  type ChatState,
  type ChatStatus,
  type UIMessage,
  type UIMessageChunk,
} from 'ai'
import type { ProviderEvent } from '../../src/providers/ports.ts'
import { AUTH, chatApp, controlledProvider, scriptedProvider } from './helpers.ts'

/**
 * Golden tests: our UI message stream decoded by the installed `ai` package itself — its chunk
 * schema, its `readUIMessageStream`, and its `DefaultChatTransport` (what `useChat` uses).
 */

/** Keys each chunk type may carry. ai@6 parses loosely, newer versions strictly: stay within these. */
const ALLOWED_KEYS: Record<string, string[]> = {
  start: ['type', 'messageId', 'messageMetadata'],
  'start-step': ['type'],
  'text-start': ['type', 'id'],
  'text-delta': ['type', 'id', 'delta'],
  'text-end': ['type', 'id'],
  'tool-input-available': ['type', 'toolCallId', 'toolName', 'input'],
  'tool-output-available': ['type', 'toolCallId', 'output'],
  'tool-output-error': ['type', 'toolCallId', 'errorText'],
  'finish-step': ['type'],
  finish: ['type', 'finishReason', 'messageMetadata'],
  abort: ['type', 'reason'],
  error: ['type', 'errorText'],
}

function userMessage(text: string, id = 'u1'): UIMessage {
  return { id, role: 'user', parts: [{ type: 'text', text }] }
}

/** Raw body → chunks through the ai package's own SSE parser and schema; every chunk must validate. */
async function decode(res: Response): Promise<{ chunks: UIMessageChunk[]; raw: string }> {
  const raw = await res.clone().text()
  const parsed = parseJsonEventStream({ stream: res.body!, schema: uiMessageChunkSchema })
  const chunks: UIMessageChunk[] = []
  for await (const result of parsed as unknown as AsyncIterable<{ success: boolean; value: UIMessageChunk }>) {
    assert.ok(result.success, `chunk rejected by ai: ${JSON.stringify(result)}`)
    chunks.push(result.value)
  }
  for (const chunk of chunks) {
    const allowed = ALLOWED_KEYS[chunk.type]
    assert.ok(allowed, `unexpected chunk type ${chunk.type}`)
    for (const key of Object.keys(chunk)) assert.ok(allowed.includes(key), `${chunk.type} carries an unknown key ${key}`)
  }
  return { chunks, raw }
}

async function finalMessage(chunks: UIMessageChunk[]): Promise<UIMessage> {
  const stream = new ReadableStream<UIMessageChunk>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk)
      controller.close()
    },
  })
  let last: UIMessage | undefined
  for await (const message of readUIMessageStream({ stream, terminateOnError: true })) last = message
  return last!
}

describe('AI SDK UI message stream', () => {
  it('answers a useChat body in the UI message stream protocol', async () => {
    const { post, stores } = await chatApp()
    const res = await post('/chat/stream', { id: 'chat-golden-1', messages: [userMessage('hello sdk')], trigger: 'submit-message', messageId: undefined })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-vercel-ai-ui-message-stream'), 'v1')
    assert.equal(res.headers.get('content-type'), 'text/event-stream')
    assert.equal(res.headers.get('x-conversation-id'), 'chat-golden-1')
    const { chunks, raw } = await decode(res)
    assert.ok(raw.trimEnd().endsWith('data: [DONE]'))
    assert.doesNotMatch(raw, /^(event|id):/m, 'only data lines (and comments)')

    const types = chunks.map((c) => c.type)
    assert.deepEqual(types.slice(0, 3), ['start', 'start-step', 'text-start'])
    assert.deepEqual(types.slice(-3), ['text-end', 'finish-step', 'finish'])
    assert.ok(types.slice(3, -3).every((t) => t === 'text-delta'))

    const message = await finalMessage(chunks)
    assert.equal(message.role, 'assistant')
    const text = message.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('')
    assert.match(text, /You said: "hello sdk"/)
    const metadata = message.metadata as { conversation_id: string; message_id: string }
    assert.equal(metadata.conversation_id, 'chat-golden-1')

    // The id the caller chose became a conversation of theirs.
    const page = await stores.conversations.listMessages('alice', 'chat-golden-1', { limit: 10 })
    assert.equal(page!.items[1].content, text)
    assert.equal(page!.items[1].id, metadata.message_id)
  })

  it('emits tool parts the SDK assembles into a tool invocation', async () => {
    const { provider } = scriptedProvider([
      (): ProviderEvent[] => [{ type: 'tool_call', call: { id: 'call_9', name: 'calculator', arguments: '{"expression":"2+2"}' } }, { type: 'finish', reason: 'tool_calls', model: 'm' }],
      (): ProviderEvent[] => [{ type: 'text', delta: '4' }, { type: 'finish', reason: 'stop', model: 'm' }],
    ])
    const tools = {
      definitions: () => [{ name: 'calculator', description: 'math', parameters: { type: 'object' } }],
      execute: async () => ({ result: { value: 4 }, duration_ms: 0 }),
    }
    const { post } = await chatApp({ provider, tools })
    const { chunks } = await decode(await post('/chat/stream', { id: 'chat-tools', messages: [userMessage('2+2?')] }))
    assert.deepEqual(
      chunks.map((c) => c.type),
      ['start', 'start-step', 'tool-input-available', 'tool-output-available', 'finish-step', 'start-step', 'text-start', 'text-delta', 'text-end', 'finish-step', 'finish'],
    )
    const message = await finalMessage(chunks)
    const tool = message.parts.find((p) => p.type === 'tool-calculator') as { state: string; input: unknown; output: unknown }
    assert.deepEqual([tool.state, tool.input, tool.output], ['output-available', { expression: '2+2' }, { value: 4 }])
  })

  it('reports a failure as an error chunk', async () => {
    const { post } = await chatApp()
    const { chunks } = await decode(await post('/chat/stream', { id: 'chat-fail', messages: [userMessage('/fail')] }))
    const last = chunks.at(-1)!
    assert.equal(last.type, 'error')
    assert.equal((last as { errorText: string }).errorText, 'The built-in model was asked to fail')
  })

  it('works through DefaultChatTransport, including its default resume URL', async () => {
    const control = controlledProvider()
    const { app } = await chatApp({ provider: control.provider })
    const transport = new DefaultChatTransport<UIMessage>({
      api: 'http://in-process/api/v1/chat/stream',
      headers: AUTH.alice,
      fetch: ((input: string, init?: RequestInit) => app.request(input, init)) as typeof fetch,
    })
    assert.equal(await transport.reconnectToStream({ chatId: 'chat-transport' }), null, '204 before any job')

    const stream = await transport.sendMessages({ chatId: 'chat-transport', messages: [userMessage('via transport')], trigger: 'submit-message', messageId: undefined, abortSignal: undefined })
    control.push('Hel', 'lo')
    const resumed = await transport.reconnectToStream({ chatId: 'chat-transport' })
    assert.ok(resumed, 'a running job can be resumed')
    control.end()

    const read = async (s: ReadableStream<UIMessageChunk>) => {
      const out: UIMessageChunk[] = []
      for await (const chunk of s as unknown as AsyncIterable<UIMessageChunk>) out.push(chunk)
      return out
    }
    const [first, again] = await Promise.all([read(stream), read(resumed)])
    assert.deepEqual(again, first, 'the resume replays the whole message')
    const message = await finalMessage(first)
    assert.equal(message.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join(''), 'Hello')
  })

  it('ends a stopped generation with an abort chunk', async () => {
    const control = controlledProvider()
    const { post } = await chatApp({ provider: control.provider })
    const res = await post('/chat/stream', { id: 'chat-stop', messages: [userMessage('stop')] })
    control.push('part')
    const stop = await post('/conversations/chat-stop/stop', {})
    assert.equal(stop.status, 202)
    const { chunks } = await decode(res)
    assert.deepEqual(chunks.map((c) => c.type).slice(-2), ['finish-step', 'abort'])
  })

  it('rejects a useChat body without text', async () => {
    const { post } = await chatApp()
    const res = await post('/chat/stream', { id: 'chat-empty', messages: [{ id: 'x', role: 'user', parts: [{ type: 'file', url: 'data:,', mediaType: 'text/plain' }] }] })
    assert.equal(res.status, 400)
    assert.equal((await res.json()).errors[0].path, 'messages')
  })
})

/** The AI SDK's `AbstractChat` (what `useChat` wraps) with plain in-memory state, as its own tests do. */
class MemoryChatState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready'
  error: Error | undefined = undefined
  messages: UIMessage[] = []
  pushMessage = (message: UIMessage) => void (this.messages = [...this.messages, message])
  popMessage = () => void (this.messages = this.messages.slice(0, -1))
  replaceMessage = (index: number, message: UIMessage) => void (this.messages = this.messages.map((m, i) => (i === index ? message : m)))
  snapshot = <T>(thing: T): T => structuredClone(thing)
}

class TestChat extends AbstractChat<UIMessage> {
  constructor(init: Omit<ChatInit<UIMessage>, 'messages'>) {
    super({ ...init, state: new MemoryChatState() })
  }
}

/** A chat against the in-process app through `DefaultChatTransport`, and the stored conversation. */
async function sdkChat(id: string) {
  const { app, stores } = await chatApp()
  const errors: Error[] = []
  const chat = new TestChat({
    id,
    transport: new DefaultChatTransport<UIMessage>({
      api: 'http://in-process/api/v1/chat/stream',
      headers: AUTH.alice,
      fetch: ((input: string, init?: RequestInit) => app.request(input, init)) as typeof fetch,
    }),
    onError: (error) => errors.push(error),
  })
  const stored = async () => (await stores.conversations.listMessages('alice', id, { limit: 100 }))!.items
  const textOf = (message: UIMessage) => message.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('')
  return { chat, stored, errors, textOf }
}

describe('AI SDK AbstractChat: regenerate and resubmit', () => {
  it('regenerate() replaces the last assistant reply; no second copy of the question is stored', async () => {
    const { chat, stored, errors, textOf } = await sdkChat('chat-regenerate')
    await chat.sendMessage({ text: 'first question' })
    await chat.sendMessage({ text: 'second question' })
    const before = await stored()
    assert.deepEqual(before.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'])
    const replacedReply = chat.messages.at(-1)!.id

    await chat.regenerate()
    assert.deepEqual(errors, [])
    assert.equal(chat.status, 'ready')
    assert.deepEqual(chat.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'])
    assert.notEqual(chat.messages.at(-1)!.id, replacedReply, 'a new reply replaced the old one')

    const after = await stored()
    assert.deepEqual(after.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'], 'the conversation did not grow')
    assert.deepEqual(after.filter((m) => m.role === 'user').map((m) => m.content), ['first question', 'second question'])
    assert.deepEqual(after.slice(0, 2), before.slice(0, 2), 'the earlier turn is untouched')
    assert.notEqual(after[3].id, before[3].id, 'the stored reply is the new one')
    assert.equal(after[3].content, textOf(chat.messages.at(-1)!))
    assert.deepEqual(after.map((m) => m.seq), [1, 2, 3, 4])
  })

  it('regenerate({ messageId }) of an earlier reply drops the turns after it', async () => {
    const { chat, stored } = await sdkChat('chat-regenerate-earlier')
    await chat.sendMessage({ text: 'one' })
    await chat.sendMessage({ text: 'two' })
    await chat.regenerate({ messageId: chat.messages[1].id })
    assert.deepEqual(chat.messages.map((m) => m.role), ['user', 'assistant'])
    assert.deepEqual((await stored()).map((m) => [m.role, m.role === 'user' ? m.content : '']), [['user', 'one'], ['assistant', '']])
  })

  it('resubmitting the same user message id is idempotent, and an edit replaces the turn', async () => {
    const { chat, stored, textOf } = await sdkChat('chat-resubmit')
    await chat.sendMessage({ text: 'hello there' })
    const userId = chat.messages[0].id
    await chat.sendMessage({ text: 'hello there', messageId: userId })
    await chat.sendMessage({ text: 'hello there', messageId: userId })
    assert.deepEqual((await stored()).map((m) => [m.role, m.role === 'user' ? m.content : '']), [['user', 'hello there'], ['assistant', '']])

    await chat.sendMessage({ text: 'hello again', messageId: userId })
    const after = await stored()
    assert.deepEqual(after.map((m) => [m.role, m.role === 'user' ? m.content : '']), [['user', 'hello again'], ['assistant', '']])
    assert.match(after[1].content, /hello again/)
    assert.equal(after[1].content, textOf(chat.messages.at(-1)!))
  })

  it('a client that sends the same message again (a retry) stores it once', async () => {
    const { app, stores } = await chatApp()
    const transport = new DefaultChatTransport<UIMessage>({
      api: 'http://in-process/api/v1/chat/stream',
      headers: AUTH.alice,
      fetch: ((input: string, init?: RequestInit) => app.request(input, init)) as typeof fetch,
    })
    const messages = [userMessage('retry me', 'u-retry')]
    for (let attempt = 0; attempt < 2; attempt++) {
      const stream = await transport.sendMessages({ chatId: 'chat-retry', messages, trigger: 'submit-message', messageId: undefined, abortSignal: undefined })
      for await (const chunk of stream as unknown as AsyncIterable<UIMessageChunk>) void chunk
    }
    const items = (await stores.conversations.listMessages('alice', 'chat-retry', { limit: 10 }))!.items
    assert.deepEqual(items.map((m) => m.role), ['user', 'assistant'])
  })
})
