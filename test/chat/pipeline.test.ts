import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { problems } from '../../src/kernel/problem.ts'
import type { ChatTools } from '../../src/features/chat/index.ts'
import type { ProviderEvent } from '../../src/providers/ports.ts'
import { ManualClock } from '../../src/kernel/clock.ts'
import { chatApp, events, readFrames, scriptedProvider, until } from './helpers.ts'

const finish = (reason: 'stop' | 'tool_calls' = 'stop'): ProviderEvent => ({ type: 'finish', reason, model: 'scripted-1', usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 } })
const call = (id: string, name: string, args: string): ProviderEvent => ({ type: 'tool_call', call: { id, name, arguments: args } })

function fakeTools(handlers: Record<string, (args: any, signal: AbortSignal) => Promise<unknown>>) {
  const calls: { name: string; args: unknown; userId: string }[] = []
  const tools: ChatTools = {
    definitions: () => Object.keys(handlers).map((name) => ({ name, description: `the ${name} tool`, parameters: { type: 'object' } })),
    async execute(name, args, context) {
      calls.push({ name, args, userId: context.userId })
      const handler = handlers[name]
      if (!handler) throw problems.notFound(`Unknown tool ${name}`)
      return { result: await handler(args, context.signal), duration_ms: 1 }
    },
  }
  return { tools, calls }
}

describe('tool loop', () => {
  it('runs requested tools, feeds results back and streams tool events', async () => {
    const { provider, requests } = scriptedProvider([
      () => [{ type: 'text', delta: 'Let me compute. ' }, call('call_1', 'calculator', '{"expression":"2+2"}'), finish('tool_calls')],
      () => [{ type: 'text', delta: 'It is 4.' }, finish()],
    ])
    const { tools, calls } = fakeTools({ calculator: async () => ({ value: 4 }) })
    const { post, stores } = await chatApp({ provider, tools })
    const res = await post('/chat/stream', { message: 'what is 2+2?' })
    const all = events(await readFrames(res))
    assert.deepEqual(all.map((f) => f.event), ['message', 'tool_call', 'tool_result', 'message', 'done'])
    assert.deepEqual(JSON.parse(all[1].data!), { id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } })
    assert.deepEqual(JSON.parse(all[2].data!), { id: 'call_1', name: 'calculator', result: { value: 4 }, duration_ms: 1 })
    assert.deepEqual(calls, [{ name: 'calculator', args: { expression: '2+2' }, userId: 'alice' }])

    assert.equal(requests.length, 2)
    assert.deepEqual(requests[0].tools!.map((t) => t.name), ['calculator'])
    const fed = requests[1].messages.slice(-2)
    assert.deepEqual(fed[0], { role: 'assistant', content: 'Let me compute. ', tool_calls: [{ id: 'call_1', name: 'calculator', arguments: '{"expression":"2+2"}' }] })
    assert.deepEqual(fed[1], { role: 'tool', content: '{"value":4}', tool_call_id: 'call_1' })

    const done = JSON.parse(all.at(-1)!.data!)
    assert.equal(done.tokens_used, 30, 'usage summed over both rounds')
    const page = await stores.conversations.listMessages('alice', res.headers.get('x-conversation-id')!, { limit: 10 })
    const reply = page!.items[1]
    assert.equal(reply.content, 'Let me compute. It is 4.')
    assert.equal(reply.tokens, 10)
    assert.deepEqual((reply.data as { tools: unknown[] }).tools, [{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' }, result: { value: 4 } }])
  })

  it('reports a failing or unknown tool to the model instead of crashing', async () => {
    const { provider, requests } = scriptedProvider([
      () => [call('c1', 'broken', '{}'), call('c2', 'missing', '{}'), call('c3', 'broken', 'not json'), finish('tool_calls')],
      () => [{ type: 'text', delta: 'Sorry.' }, finish()],
    ])
    const { tools } = fakeTools({
      broken: async () => {
        throw new Error('secret internals')
      },
    })
    const { post } = await chatApp({ provider, tools })
    const all = events(await readFrames(await post('/chat/stream', { message: 'go' })))
    const results = all.filter((f) => f.event === 'tool_result').map((f) => JSON.parse(f.data!))
    assert.deepEqual(results.map((r) => r.error.status), [500, 404, 400])
    assert.ok(!JSON.stringify(results).includes('secret internals'), '5xx details never leak')
    assert.equal(all.at(-1)!.event, 'done')
    const toolMessages = requests[1].messages.filter((m) => m.role === 'tool')
    assert.equal(toolMessages.length, 3)
  })

  it('stops offering tools after tools.max_rounds rounds', async () => {
    const { provider, requests } = scriptedProvider([
      (request) => (request.tools ? [call(`c${Math.random()}`, 'echo', '{}'), finish('tool_calls')] : [{ type: 'text', delta: 'final' }, finish()]),
    ])
    const { tools, calls } = fakeTools({ echo: async () => 'ok' })
    const { post } = await chatApp({ provider, tools, env: { TOOLS_MAX_ROUNDS: '2' } })
    const body = await (await post('/chat', { message: 'loop forever' })).json()
    assert.equal(body.message, 'final')
    assert.equal(calls.length, 2)
    assert.equal(requests.length, 3)
    assert.equal(requests[2].tools, undefined)
  })

  it('times a tool out and aborts its signal', async () => {
    let toolSignal: AbortSignal | undefined
    const { provider } = scriptedProvider([() => [call('slow', 'sleepy', '{}'), finish('tool_calls')], () => [{ type: 'text', delta: 'ok' }, finish()]])
    const { tools } = fakeTools({
      sleepy: (_args, signal) => {
        toolSignal = signal
        return new Promise(() => {})
      },
    })
    const clock = new ManualClock()
    const { post, chat } = await chatApp({ provider, tools, clock })
    const res = await post('/chat/stream', { message: 'wait' })
    const job = chat.jobs.latest(res.headers.get('x-conversation-id')!)!
    await until(() => toolSignal !== undefined, 'the tool to start')
    // The shipped tools.timeout, 10 s.
    await clock.advance(10_000 - 1)
    assert.equal(toolSignal?.aborted, false)
    await clock.advance(1)
    const all = events(await readFrames(res))
    const result = JSON.parse(all.find((f) => f.event === 'tool_result')!.data!)
    assert.equal(result.error.status, 504)
    assert.equal(job.status, 'complete')
    assert.equal(toolSignal?.aborted, true)
    assert.equal(all.at(-1)!.event, 'done')
  })
})

describe('context', () => {
  it("adds the user's relevant memory items as a system message", async () => {
    const { provider, requests } = scriptedProvider([() => [{ type: 'text', delta: 'ok' }, finish()]])
    const { post, stores } = await chatApp({ provider })
    await stores.memory.store('alice', { content: 'alice prefers tabs over spaces' })
    await stores.memory.store('alice', { content: 'unrelated grocery list' })
    await stores.memory.store('bob', { content: 'bob prefers spaces over tabs' })
    await post('/chat', { message: 'tabs or spaces?' })
    const system = requests[0].messages[0]
    assert.equal(system.role, 'system')
    assert.match(system.content as string, /alice prefers tabs/)
    assert.doesNotMatch(system.content as string, /bob|grocery/)
  })

  it('bounds history by the token budget, dropping the oldest first', async () => {
    const { provider, requests } = scriptedProvider([() => [{ type: 'text', delta: 'ok' }, finish()]])
    const { post, stores } = await chatApp({ provider, env: { CHAT_HISTORY_TOKEN_BUDGET: '10', CHAT_MEMORY_CONTEXT_ITEMS: '0' } })
    const conversation = await stores.conversations.create('alice', {})
    for (const content of ['the oldest message, long enough to be dropped', 'middle', 'newest']) await stores.conversations.appendMessage('alice', conversation.id, { role: 'user', content })
    await post('/chat', { message: 'now', conversation_id: conversation.id })
    assert.deepEqual(requests[0].messages.map((m) => m.content), ['middle', 'newest', 'now'])
  })
})
