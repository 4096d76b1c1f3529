import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/kernel/clock.ts'
import type { ChatProvider } from '../../src/providers/ports.ts'
import { ProviderError } from '../../src/providers/ports.ts'
import { AUTH, chatApp, controlledProvider, events, readFrames, scriptedProvider, until, type Frame } from './helpers.ts'

const deltas = (frames: Frame[]) =>
  events(frames)
    .filter((f) => f.event === 'message')
    .map((f) => JSON.parse(f.data!).delta as string)
    .join('')

/**
 * The stream's id guarantee: strictly increasing. Text deltas queued for the same write are merged
 * into one frame carrying the last merged seq, so ids may skip numbers.
 */
function assertIncreasingIds(frames: Frame[]) {
  const ids = events(frames).map((f) => Number(f.id))
  assert.ok(ids.every((id, i) => Number.isInteger(id) && id > 0 && (i === 0 || id > ids[i - 1])), `ids increase strictly: ${ids.join(',')}`)
}

describe('POST /chat', () => {
  it('answers with the reply, creates the conversation and persists both messages', async () => {
    const { post, stores } = await chatApp()
    const res = await post('/chat', { message: 'hello there' })
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.match(body.message, /You said: "hello there"/)
    assert.equal(body.model, 'builtin')
    assert.ok(body.tokens_used > 0)
    const page = await stores.conversations.listMessages('alice', body.conversation_id, { limit: 10 })
    assert.deepEqual(page!.items.map((m) => [m.role, m.status]), [['user', 'complete'], ['assistant', 'complete']])
    assert.equal(page!.items[1].id, body.message_id)
    assert.equal(page!.items[1].content, body.message)
  })

  it('continues an existing conversation with its history', async () => {
    const { post, stores } = await chatApp()
    const first = await (await post('/chat', { message: 'one' })).json()
    const second = await (await post('/chat', { message: 'two', conversation_id: first.conversation_id })).json()
    assert.equal(second.conversation_id, first.conversation_id)
    const page = await stores.conversations.listMessages('alice', first.conversation_id, { limit: 10 })
    assert.equal(page!.items.length, 4)
  })

  it('rejects a bad body naming the field', async () => {
    const { post } = await chatApp()
    const res = await post('/chat', { message: '', temperature: 9 })
    assert.equal(res.status, 400)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    const problem = await res.json()
    assert.deepEqual(problem.errors.map((e: { path: string }) => e.path).sort(), ['message', 'temperature'])
  })

  it('answers a body that is not JSON, or not sent as JSON, with a 400 problem and starts nothing', async () => {
    const { app, chat, stores } = await chatApp()
    for (const path of ['/api/v1/chat', '/api/v1/chat/stream']) {
      const broken = await app.request(path, { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: '{"message":' })
      assert.equal(broken.status, 400)
      assert.equal(broken.headers.get('content-type'), 'application/problem+json')
      const untyped = await app.request(path, { method: 'POST', headers: AUTH.alice, body: JSON.stringify({ message: 'hi' }) })
      assert.equal(untyped.status, 400)
      assert.deepEqual((await untyped.json()).errors.map((e: { path: string }) => e.path), ['message'])
    }
    assert.deepEqual(chat.jobs.stats(), { jobs: 0, running: 0, listeners: 0 })
    assert.equal((await stores.conversations.list('alice', { limit: 10 })).items.length, 0)
  })

  it('names the invalid fields of an AI SDK body against that body', async () => {
    const { post } = await chatApp()
    const res = await post('/chat/stream', { id: 'chat-1', messages: [{ role: 'robot', parts: [] }] })
    assert.equal(res.status, 400)
    assert.deepEqual((await res.json()).errors.map((e: { path: string }) => e.path), ['messages.0.role'])
  })

  it('is a 404 for a conversation that does not exist', async () => {
    const { post } = await chatApp()
    const res = await post('/chat', { message: 'hi', conversation_id: 'nope' })
    assert.equal(res.status, 404)
  })

  it('answers a provider failure with a problem', async () => {
    const { post } = await chatApp()
    const res = await post('/chat', { message: '/fail' })
    assert.equal(res.status, 502)
    const problem = await res.json()
    assert.equal(problem.status, 502)
    assert.equal(problem.code, 'upstream_error')
    assert.ok(problem.request_id)
  })

  it('answers an AI service that is down with 503 and Retry-After', async () => {
    const provider: ChatProvider = {
      name: 'down',
      defaultModel: 'down-1',
      async *stream() {
        throw new ProviderError('unavailable', 'The AI service is unavailable', { upstreamStatus: 503 })
      },
    }
    const { post } = await chatApp({ provider })
    const res = await post('/chat', { message: 'anyone there?' })
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('retry-after'), '5')
    const problem = await res.json()
    assert.deepEqual([problem.status, problem.code, problem.detail], [503, 'unavailable', 'The AI service is unavailable'])
    assert.equal(problem.retry_after, undefined, 'the header carries it')
    const frames = await readFrames(await post('/chat/stream', { message: 'and now?' }))
    const streamed = JSON.parse(events(frames).at(-1)!.data!)
    assert.deepEqual([streamed.status, streamed.retry_after], [503, 5], 'a stream has no headers left: the event carries it')
  })

  it('reports the model that answered, not the one the request named', async () => {
    const { post, stores } = await chatApp()
    const body = await (await post('/chat', { message: 'who are you?', model: 'gpt-4o' })).json()
    assert.equal(body.model, 'builtin')
    const frames = await readFrames(await post('/chat/stream', { message: 'and you?', model: 'gpt-4o', conversation_id: body.conversation_id }))
    assert.equal(JSON.parse(events(frames).at(-1)!.data!).model, 'builtin')
    const page = await stores.conversations.listMessages('alice', body.conversation_id, { limit: 10 })
    assert.deepEqual(page!.items.filter((m) => m.role === 'assistant').map((m) => (m.data as { model: string }).model), ['builtin', 'builtin'])
  })

  it("reports the model the provider's finish names, else the provider's default", async () => {
    const named = scriptedProvider([() => [{ type: 'text', delta: 'hi' }, { type: 'finish', reason: 'stop', model: 'gpt-4o-2024-08-06' }]])
    const { post } = await chatApp({ provider: named.provider })
    assert.equal((await (await post('/chat', { message: 'x', model: 'gpt-4o' })).json()).model, 'gpt-4o-2024-08-06')
    const control = controlledProvider()
    const stopped = await chatApp({ provider: control.provider })
    const res = await stopped.post('/chat/stream', { message: 'stop before the finish', model: 'asked-for' })
    control.push('partial')
    await readFrames(res, { stop: (f) => deltas(f) === 'partial' })
    await stopped.post(`/conversations/${res.headers.get('x-conversation-id')}/stop`, {})
    const done = JSON.parse(events(await readFrames(res)).at(-1)!.data!)
    assert.deepEqual([done.status, done.model], ['stopped', 'controlled-1'])
  })
})

describe('POST /chat/stream', () => {
  it('streams message events with strictly increasing ids, done last, and SSE headers', async () => {
    const { post, stores } = await chatApp()
    const res = await post('/chat/stream', { message: 'stream me' })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/event-stream')
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform')
    assert.equal(res.headers.get('x-accel-buffering'), 'no')
    assert.equal(res.headers.get('connection'), null)
    assert.equal(res.headers.get('transfer-encoding'), null)
    assert.equal(res.headers.get('content-encoding'), null)
    const conversationId = res.headers.get('x-conversation-id')!
    assert.ok(conversationId)
    assert.ok(res.headers.get('x-stream-id'))

    const frames = await readFrames(res)
    assert.equal(frames[0].comment, 'stream-open', 'a comment is written first')
    assertIncreasingIds(frames)
    const all = events(frames)
    assert.ok(all.length >= 2, 'text, then done')
    assert.ok(all.slice(0, -1).every((f) => f.event === 'message'))
    const done = all.at(-1)!
    assert.equal(done.event, 'done')
    const summary = JSON.parse(done.data!)
    assert.equal(summary.conversation_id, conversationId)
    assert.equal(summary.model, 'builtin')
    assert.ok(summary.tokens_used > 0)
    assert.match(deltas(frames), /You said: "stream me"/)

    const page = await stores.conversations.listMessages('alice', conversationId, { limit: 10 })
    assert.equal(page!.items[1].id, summary.message_id)
    assert.equal(page!.items[1].content, deltas(frames))
  })

  it('ends with an error event carrying a problem', async () => {
    const { post } = await chatApp()
    const frames = await readFrames(await post('/chat/stream', { message: '/fail' }))
    const last = events(frames).at(-1)!
    assert.equal(last.event, 'error')
    const problem = JSON.parse(last.data!)
    assert.equal(problem.status, 502)
    assert.ok(problem.request_id)
    assertIncreasingIds(frames)
  })

  it('ends a generation whose model goes quiet past the idle budget with a 504 error, keeping the partial reply', async () => {
    const control = controlledProvider()
    const clock = new ManualClock()
    const { post, stores, chat } = await chatApp({ provider: control.provider, clock })
    const res = await post('/chat/stream', { message: 'then silence' })
    const conversationId = res.headers.get('x-conversation-id')!
    control.push('partial ')
    await until(() => chat.jobs.latest(conversationId)?.events.length === 1, 'the first delta')
    // The shipped chat.stream_idle_timeout, 60 s, counted from the last delta.
    await clock.advance(60_000 - 1)
    assert.equal(chat.jobs.stats().running, 1, 'still within the idle budget')
    await clock.advance(1)
    const frames = await readFrames(res)
    const last = events(frames).at(-1)!
    assert.equal(last.event, 'error')
    const problem = JSON.parse(last.data!)
    assert.equal(problem.status, 504)
    assert.match(problem.detail, /sent nothing for 60000 ms/)
    assert.equal(control.requests[0].signal.aborted, true, 'the upstream call was cancelled')
    const page = await stores.conversations.listMessages('alice', conversationId, { limit: 10 })
    assert.deepEqual(page!.items.map((m) => [m.role, m.content, m.status]), [
      ['user', 'then silence', 'complete'],
      ['assistant', 'partial ', 'error'],
    ])
    assert.equal(chat.jobs.stats().running, 0)
  })

  it('sends heartbeat comments while the model is quiet', async () => {
    const control = controlledProvider()
    const clock = new ManualClock()
    const { post } = await chatApp({ provider: control.provider, clock })
    const res = await post('/chat/stream', { message: 'slow' })
    // The shipped chat.heartbeat_interval, 15 s.
    await clock.advance(15_000)
    const frames = await readFrames(res, { stop: (f) => f.some((frame) => frame.comment === 'heartbeat') })
    assert.deepEqual(frames.map((f) => f.comment), ['stream-open', 'heartbeat'])
    control.push('ok')
    control.end()
    const rest = await readFrames(res)
    assert.equal(events(rest).at(-1)!.event, 'done')
  })

  it('refuses a second job in the same conversation with 409', async () => {
    const control = controlledProvider()
    const { post } = await chatApp({ provider: control.provider })
    const first = await post('/chat/stream', { message: 'first' })
    const conversationId = first.headers.get('x-conversation-id')!
    const second = await post('/chat/stream', { message: 'second', conversation_id: conversationId })
    assert.equal(second.status, 409)
    assert.equal(second.headers.get('content-type'), 'application/problem+json')
    const json = await post('/chat', { message: 'third', conversation_id: conversationId })
    assert.equal(json.status, 409)
    control.end()
    await readFrames(first)
  })
})

describe('resume, long-poll and stop', () => {
  it('a disconnected client leaves the job running; resume from Last-Event-ID loses and duplicates nothing', async () => {
    const control = controlledProvider()
    const { post, get, stores, chat } = await chatApp({ provider: control.provider })
    const res = await post('/chat/stream', { message: 'resume me' })
    const conversationId = res.headers.get('x-conversation-id')!
    control.push('a ', 'b ', 'c ')
    const before = await readFrames(res, { stop: (f) => deltas(f) === 'a b c ', cancel: true })
    const seen = events(before)
    await until(() => chat.jobs.stats().listeners === 0, 'the listener to detach')
    assert.equal(chat.jobs.stats().running, 1, 'the job keeps running without listeners')

    control.push('d ', 'e')
    control.end()
    const job = chat.jobs.latest(conversationId)!
    await job.finished
    // Persisted although nobody was listening.
    const page = await stores.conversations.listMessages('alice', conversationId, { limit: 10 })
    assert.equal(page!.items[1].content, 'a b c d e')

    const resumed = await get(`/conversations/${conversationId}/stream`, 'alice', { 'last-event-id': seen.at(-1)!.id! })
    assert.equal(resumed.status, 200)
    assert.equal(resumed.headers.get('x-stream-id'), job.id)
    const after = events(await readFrames(resumed))
    const all = [...seen, ...after]
    assertIncreasingIds(all)
    assert.equal(deltas(all), 'a b c d e')
    assert.equal(all.at(-1)!.event, 'done')

    // ?after= is the same cursor: after any seq of the log, exactly the text not yet seen, then done.
    const log = ['a ', 'b ', 'c ', 'd ', 'e']
    for (let after = 0; after <= log.length; after++) {
      const tail = events(await readFrames(await get(`/conversations/${conversationId}/stream?after=${after}`)))
      assert.equal(deltas(tail), log.slice(after).join(''), `after=${after}`)
      assert.ok(tail.every((f) => Number(f.id) > after), `after=${after}: nothing at or before the cursor`)
      assert.deepEqual([tail.at(-1)!.event, tail.at(-1)!.id], ['done', '6'])
    }
  })

  it('merges deltas queued for one write into one frame with the last id; resuming from it loses and repeats nothing', async () => {
    const control = controlledProvider()
    const { post, get, chat } = await chatApp({ provider: control.provider })
    const res = await post('/chat/stream', { message: 'merge me' })
    const conversationId = res.headers.get('x-conversation-id')!
    // One burst: the three deltas reach the job log before the stream's next write.
    control.push('one ', 'two ', 'three ')
    const first = events(await readFrames(res, { stop: (f) => deltas(f) === 'one two three ' }))
    assert.deepEqual(first.map((f) => [f.event, f.id, JSON.parse(f.data!).delta]), [['message', '3', 'one two three ']])
    assert.equal(chat.jobs.latest(conversationId)!.events.length, 3, 'the job log keeps one event per delta')

    const resumed = await get(`/conversations/${conversationId}/stream`, 'alice', { 'last-event-id': first[0].id! })
    control.push('four')
    control.end()
    const rest = events(await readFrames(resumed))
    assert.equal(deltas(rest), 'four')
    assert.ok(Number(rest[0].id) > 3)
    assert.equal(deltas([...first, ...rest]), 'one two three four')
    assert.equal(rest.at(-1)!.event, 'done')
    await readFrames(res)
  })

  it('never merges text across a tool call or into done', async () => {
    const { provider } = scriptedProvider([
      () => [{ type: 'text', delta: 'a' }, { type: 'text', delta: 'b' }, { type: 'tool_call', call: { id: 'c1', name: 'echo', arguments: '{}' } }, { type: 'finish', reason: 'tool_calls', model: 'm' }],
      () => [{ type: 'text', delta: 'c' }, { type: 'text', delta: 'd' }, { type: 'finish', reason: 'stop', model: 'm' }],
    ])
    const tools = { definitions: () => [{ name: 'echo', description: 'echo', parameters: { type: 'object' } }], execute: async () => ({ result: 'ok', duration_ms: 0 }) }
    const { post } = await chatApp({ provider, tools })
    const all = events(await readFrames(await post('/chat/stream', { message: 'tools' })))
    assertIncreasingIds(all)
    const kinds = all.map((f) => f.event).filter((kind, i, list) => kind !== 'message' || list[i - 1] !== 'message')
    assert.deepEqual(kinds, ['message', 'tool_call', 'tool_result', 'message', 'done'])
    const toolCall = all.findIndex((f) => f.event === 'tool_call')
    assert.equal(deltas(all.slice(0, toolCall)), 'ab')
    assert.equal(deltas(all.slice(toolCall)), 'cd')
    // Log: a=1 b=2 tool_call=3 tool_result=4 c=5 d=6 done=7; a merged frame names its last seq.
    assert.deepEqual([all[toolCall].id, all.at(-1)!.id], ['3', '7'])
    assert.ok(Number(all[toolCall - 1].id) <= 2 && Number(all.at(-2)!.id) === 6)
  })

  it('resume attaches to a running job and follows it live', async () => {
    const control = controlledProvider()
    const { post, get } = await chatApp({ provider: control.provider })
    const res = await post('/chat/stream', { message: 'live' })
    const conversationId = res.headers.get('x-conversation-id')!
    control.push('x ')
    const second = await get(`/conversations/${conversationId}/stream`)
    control.push('y')
    control.end()
    const [a, b] = await Promise.all([readFrames(res), readFrames(second)])
    // Each listener merges what queued up for its own writes, so frames may differ; text and end may not.
    assert.equal(deltas(a), 'x y')
    assert.equal(deltas(b), 'x y')
    assert.deepEqual(events(b).at(-1), events(a).at(-1))
  })

  it('resume, long-poll and the AI SDK resume are 204 when the conversation has no job', async () => {
    const { get, stores } = await chatApp()
    const conversation = await stores.conversations.create('alice', {})
    assert.equal((await get(`/conversations/${conversation.id}/stream`)).status, 204)
    assert.equal((await get(`/conversations/${conversation.id}/events`)).status, 204)
    assert.equal((await get(`/chat/stream/${conversation.id}/stream`)).status, 204)
  })

  it('keeps a finished job replayable for the retention, then drops it', async () => {
    const clock = new ManualClock()
    const { post, get, chat } = await chatApp({ clock })
    const { conversation_id } = await (await post('/chat', { message: 'x' })).json()
    // The shipped chat.job_retention, 5 min.
    await clock.advance(5 * 60_000 - 1)
    const replay = await get(`/conversations/${conversation_id}/stream`)
    assert.equal(replay.status, 200)
    assert.equal(events(await readFrames(replay)).at(-1)!.event, 'done')
    await clock.advance(1)
    assert.equal((await get(`/conversations/${conversation_id}/stream`)).status, 204)
    assert.deepEqual(chat.jobs.stats(), { jobs: 0, running: 0, listeners: 0 })
  })

  it('long-poll returns the raw log: one event per delta, the same text and end as the stream', async () => {
    const { post, get } = await chatApp()
    const res = await post('/chat/stream', { message: 'poll me' })
    const conversationId = res.headers.get('x-conversation-id')!
    const streamed = events(await readFrames(res))
    const polled = await (await get(`/conversations/${conversationId}/events?after=0`)).json()
    assert.equal(polled.done, true)
    const ids = polled.events.map((e: { id: number }) => e.id)
    assert.deepEqual(ids, ids.map((_: number, i: number) => i + 1), 'unmerged: ids 1, 2, 3, …')
    assert.equal(polled.next_after, ids.length)
    assert.ok(streamed.every((f) => ids.includes(Number(f.id))), 'every streamed id is a seq of the log')
    assert.equal(polled.events.filter((e: { event: string }) => e.event === 'message').map((e: { data: { delta: string } }) => e.data.delta).join(''), deltas(streamed))
    assert.deepEqual(polled.events.at(-1), { id: Number(streamed.at(-1)!.id), event: 'done', data: JSON.parse(streamed.at(-1)!.data!) })
    const later = await (await get(`/conversations/${conversationId}/events?after=2`)).json()
    assert.equal(later.events[0].id, 3)
  })

  it('long-poll waits for the next event, or times out with an empty list', async () => {
    const control = controlledProvider()
    const clock = new ManualClock()
    const { post, get, chat } = await chatApp({ provider: control.provider, clock })
    const res = await post('/chat/stream', { message: 'wait' })
    const conversationId = res.headers.get('x-conversation-id')!
    const listening = () => chat.jobs.stats().listeners === 2
    const waiting = get(`/conversations/${conversationId}/events?after=0`)
    await until(listening, 'the long-poll to wait beside the stream')
    // The shipped chat.long_poll_timeout, 25 s.
    await clock.advance(25_000)
    const empty = await (await waiting).json()
    assert.deepEqual([empty.events, empty.next_after, empty.done], [[], 0, false])

    const pending = get(`/conversations/${conversationId}/events?after=0`)
    await until(listening, 'the second long-poll to wait')
    control.push('hi')
    const got = await (await pending).json()
    assert.deepEqual(got.events, [{ id: 1, event: 'message', data: { delta: 'hi' } }])
    assert.equal(got.next_after, 1)
    control.end()
    await readFrames(res)
    const bad = await get(`/conversations/${conversationId}/events?after=-1`)
    assert.equal(bad.status, 400)
  })

  it('stop cancels the job and persists the partial reply as stopped', async () => {
    const control = controlledProvider()
    const { post, stores, chat } = await chatApp({ provider: control.provider })
    const res = await post('/chat/stream', { message: 'stop me' })
    const conversationId = res.headers.get('x-conversation-id')!
    control.push('partial ', 'reply')
    await readFrames(res, { stop: (f) => deltas(f) === 'partial reply' })
    const stop = await post(`/conversations/${conversationId}/stop`, {})
    assert.equal(stop.status, 202)
    const frames = await readFrames(res)
    const done = events(frames).at(-1)!
    assert.equal(done.event, 'done')
    assert.equal(JSON.parse(done.data!).status, 'stopped')
    assert.equal(control.requests[0].signal.aborted, true, 'the provider call was aborted')
    const page = await stores.conversations.listMessages('alice', conversationId, { limit: 10 })
    assert.deepEqual([page!.items[1].content, page!.items[1].status], ['partial reply', 'stopped'])
    assert.equal((await post(`/conversations/${conversationId}/stop`, {})).status, 404, 'nothing left to stop')
    assert.equal(chat.jobs.stats().running, 0)
  })

  it('a JSON chat stopped from elsewhere answers with the partial reply', async () => {
    const control = controlledProvider()
    const { post, stores, chat } = await chatApp({ provider: control.provider })
    const conversation = await stores.conversations.create('alice', {})
    const pending = post('/chat', { message: 'long one', conversation_id: conversation.id })
    control.push('half')
    await until(() => chat.jobs.latest(conversation.id)?.events.length === 1, 'the first delta')
    assert.equal((await post(`/conversations/${conversation.id}/stop`, {})).status, 202)
    const body = await (await pending).json()
    assert.deepEqual([body.message, body.status, body.conversation_id], ['half', 'stopped', conversation.id])
  })
})

describe('owner isolation', () => {
  it("another user's conversation is a 404 everywhere", async () => {
    const control = controlledProvider()
    const { post, get } = await chatApp({ provider: control.provider })
    const res = await post('/chat/stream', { message: 'mine' })
    const conversationId = res.headers.get('x-conversation-id')!
    control.push('secret')
    for (const attempt of [
      get(`/conversations/${conversationId}/stream`, 'bob'),
      get(`/conversations/${conversationId}/events`, 'bob'),
      post(`/conversations/${conversationId}/stop`, {}, 'bob'),
      post('/chat', { message: 'x', conversation_id: conversationId }, 'bob'),
      post('/chat/stream', { message: 'x', conversation_id: conversationId }, 'bob'),
      post('/chat/stream', { id: conversationId, messages: [{ id: 'm', role: 'user', parts: [{ type: 'text', text: 'x' }] }] }, 'bob'),
    ]) {
      const answer = await attempt
      assert.equal(answer.status, 404, await answer.clone().text())
      assert.equal(answer.headers.get('content-type'), 'application/problem+json')
    }
    const aiResume = await get(`/chat/stream/${conversationId}/stream`, 'bob')
    assert.equal(aiResume.status, 204, 'the AI SDK resume treats a foreign chat like an unknown one')
    control.end()
    assert.match(deltas(await readFrames(res)), /secret/)
  })

  it('requires an API key', async () => {
    const { app } = await chatApp()
    const res = await app.request('/api/v1/chat', { method: 'POST', body: '{}' })
    assert.equal(res.status, 401)
  })
})
