import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { ManualClock } from '../../src/kernel/clock.ts'
import { rawBody, rawExchange } from '../helpers/raw-http.ts'
import { KEYS, refusal, startWsServer, within, type WsServer } from './harness.ts'

describe('/ws handshake', () => {
  let server: WsServer
  before(async () => {
    server = await startWsServer()
  })
  after(() => server.close())

  it('refuses an upgrade without a key with 401 problem before upgrading', async () => {
    const { status, headers } = await refusal(server.raw(server.url))
    assert.equal(status, 401)
    assert.equal(headers['content-type'], 'application/problem+json')
    assert.match(String(headers['www-authenticate']), /^Bearer/)
    assert.equal(server.hub.size, 0)
  })

  it('refuses a wrong key with 401', async () => {
    const { status } = await refusal(server.raw(server.url, { headers: { authorization: 'Bearer nope-nope-nope' } }))
    assert.equal(status, 401)
  })

  it('refuses a browser origin outside the allowlist with 403', async () => {
    const ws = server.raw(server.url, { headers: { authorization: `Bearer ${KEYS.alice}`, origin: 'https://evil.example' } })
    const { status, headers } = await refusal(ws)
    assert.equal(status, 403)
    assert.equal(headers['content-type'], 'application/problem+json')
  })

  it('accepts an allowlisted origin and the same origin', async () => {
    for (const origin of ['https://app.example.com', server.base]) {
      const ws = server.raw(server.url, { headers: { authorization: `Bearer ${KEYS.alice}`, origin } })
      await within(new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('unexpected-response', reject))))
      ws.close()
    }
  })

  it('accepts the key as ?token= (browsers cannot set headers)', async () => {
    const ws = server.raw(`${server.url}?token=${encodeURIComponent(KEYS.bob)}`)
    await within(new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('unexpected-response', reject))))
    ws.close()
  })

  it('answers a plain GET with a 401 problem body, and 426 once authenticated', async () => {
    const anonymous = await fetch(`${server.base}/ws`)
    assert.equal(anonymous.status, 401)
    const body = await anonymous.json()
    assert.equal(body.status, 401)
    assert.equal(body.request_id, 'test-request')
    const plain = await fetch(`${server.base}/ws`, { headers: { authorization: `Bearer ${KEYS.alice}` } })
    assert.equal(plain.status, 426)
    assert.equal(plain.headers.get('content-type'), 'application/problem+json')
    await plain.body?.cancel()
  })

  it('answers Upgrade: websocket without Connection: Upgrade with a 426 problem, not an empty 500', async () => {
    const port = Number(new URL(server.base).port)
    const answer = await rawExchange(port, `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nAuthorization: Bearer ${KEYS.alice}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: close\r\n\r\n`)
    assert.equal(answer.status, 426)
    assert.match(answer.text, /content-type: application\/problem\+json/i)
    assert.equal(rawBody(answer).request_id, 'test-request')
    assert.equal(server.hub.size, 0)
  })

  it('answers and closes an Upgrade that is not WebSocket, even on a server Node hands every upgrade to', async () => {
    // This harness serves without startServer's shouldUpgradeCallback, so the listener sees `Upgrade: foo`.
    const port = Number(new URL(server.base).port)
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n')
    assert.equal(answer.status, 400)
    assert.match(answer.text, /\r\nConnection: close\r\n/)
  })
})

describe('/ws protocol', () => {
  let server: WsServer
  before(async () => {
    server = await startWsServer({ hub: { burst: 1000, messagesPerSecond: 1000 } })
  })
  after(() => server.close())

  it('answers ping with pong', async () => {
    const client = await server.connect()
    client.send({ type: 'ping' })
    assert.deepEqual(await client.next(), { type: 'pong' })
    client.ws.close()
  })

  it('answers bad JSON, a non-object and an unknown type with error frames and stays open', async () => {
    const client = await server.connect()
    client.send('{not json')
    assert.equal((await client.next()).code, 'bad_json')
    client.send('[1,2]')
    assert.equal((await client.next()).code, 'invalid_frame')
    client.send({ type: 'teleport' })
    const unknown = await client.next()
    assert.equal(unknown.type, 'error')
    assert.equal(unknown.code, 'unknown_type')
    client.send({ type: 'chat', request_id: 'r1' })
    const invalid = await client.next()
    assert.equal(invalid.code, 'invalid_frame')
    assert.equal(invalid.request_id, 'r1')
    assert.match(invalid.message, /^message:/)
    client.send({ type: 'ping' })
    assert.equal((await client.next()).type, 'pong')
    assert.equal(client.ws.readyState, WebSocket.OPEN)
    client.ws.close()
  })

  it('streams a chat as started, deltas with increasing seq, then done', async () => {
    const client = await server.connect()
    client.send({ type: 'chat', request_id: 'q1', message: 'hello there world' })
    const frames = await client.stream('q1')
    assert.equal(frames[0].type, 'started')
    const conversationId = frames[0].conversation_id
    const deltas = frames.filter((f) => f.type === 'delta')
    assert.equal(deltas.map((f) => f.delta).join(''), 'hello there world')
    assert.deepEqual(deltas.map((f) => f.seq), [1, 2, 3])
    const done = frames.at(-1)!
    assert.equal(done.type, 'done')
    assert.equal(done.conversation_id, conversationId)
    assert.equal(done.tokens_used, 3)
    assert.equal(typeof done.message_id, 'string')
    assert.equal(server.gateway.listenerCount(), 0)
    client.ws.close()
  })

  it('turns a pipeline error event and a refused start into error frames', async () => {
    const client = await server.connect()
    client.send({ type: 'chat', request_id: 'bad', message: 'fail now' })
    const frames = await client.stream('bad')
    const error = frames.at(-1)!
    assert.equal(error.type, 'error')
    assert.equal(error.code, 'internal')
    assert.equal(error.message, 'The AI service failed')
    client.send({ type: 'chat', request_id: 'missing', message: 'hi', conversation_id: 'nope' })
    const refused = await client.next((f) => f.request_id === 'missing')
    assert.deepEqual([refused.type, refused.code], ['error', 'not_found'])
    client.ws.close()
  })

  it('stops a running generation, and says not_found when nothing runs', async () => {
    const client = await server.connect()
    client.send({ type: 'chat', request_id: 'long', message: 'hold on please' })
    const started = await client.next((f) => f.type === 'started')
    await client.next((f) => f.type === 'delta')
    client.send({ type: 'stop', conversation_id: started.conversation_id })
    assert.deepEqual(await client.next((f) => f.type === 'stopped'), { type: 'stopped', conversation_id: started.conversation_id })
    const done = await client.next((f) => f.type === 'done' && f.request_id === 'long')
    assert.equal(done.conversation_id, started.conversation_id)
    client.send({ type: 'stop', conversation_id: started.conversation_id })
    assert.equal((await client.next((f) => f.type === 'error')).code, 'not_found')
    client.ws.close()
  })

  it('resumes after a dropped connection from `after`, and says no_active for nothing to resume', async () => {
    const first = await server.connect()
    first.send({ type: 'chat', request_id: 'r', message: 'hold it' })
    const started = await first.next((f) => f.type === 'started')
    await first.next((f) => f.type === 'delta')
    first.ws.terminate()
    await first.closed
    const second = await server.connect()
    second.send({ type: 'resume', conversation_id: started.conversation_id, after: 0, request_id: 'again' })
    const replayed = await second.next((f) => f.request_id === 'again')
    assert.deepEqual([replayed.type, replayed.seq, replayed.delta], ['delta', 1, 'hold'])
    server.gateway.stop('alice', started.conversation_id)
    const done = await second.next((f) => f.request_id === 'again' && f.type === 'done')
    assert.equal(done.seq, 2)
    second.send({ type: 'resume', conversation_id: 'unknown' })
    assert.deepEqual(await second.next((f) => f.type === 'no_active'), { type: 'no_active', conversation_id: 'unknown', request_id: null })
    // Bob cannot resume Alice's stream.
    const bob = await server.connect('bob')
    bob.send({ type: 'resume', conversation_id: started.conversation_id })
    assert.equal((await bob.next()).type, 'no_active')
    second.ws.close()
    bob.ws.close()
  })

  it('detaches a closed client without stopping its job', async () => {
    const client = await server.connect()
    client.send({ type: 'chat', request_id: 'bye', message: 'hold me' })
    const started = await client.next((f) => f.type === 'started')
    await client.next((f) => f.type === 'delta')
    assert.equal(server.gateway.listenerCount(), 1)
    client.ws.close()
    await client.closed
    await within(
      (async () => {
        while (server.gateway.listenerCount() > 0) await new Promise((r) => setTimeout(r, 5))
      })(),
    )
    assert.equal(server.gateway.jobs.get(started.conversation_id)?.finished, false)
    server.gateway.stop('alice', started.conversation_id)
  })
})

describe('/ws subscribe', () => {
  let server: WsServer
  before(async () => {
    server = await startWsServer({ hub: { burst: 1000, messagesPerSecond: 1000 } })
  })
  after(() => server.close())

  it('fans persisted messages out to every subscribed connection of the owner, none to others', async () => {
    const conversation = await server.store.create('alice', {})
    const phone = await server.connect('alice')
    const laptop = await server.connect('alice')
    const unsubscribed = await server.connect('alice')
    const bob = await server.connect('bob')
    for (const client of [phone, laptop]) {
      client.send({ type: 'subscribe', conversation_id: conversation.id })
      assert.deepEqual(await client.next(), { type: 'subscribed', conversation_id: conversation.id })
    }
    // Bob may not subscribe to Alice's conversation; it looks like a missing one.
    bob.send({ type: 'subscribe', conversation_id: conversation.id })
    const refused = await bob.next()
    assert.deepEqual([refused.type, refused.code], ['error', 'not_found'])
    assert.equal(server.hub.subscriberCount('bob', conversation.id), 0)

    // Persisted by any transport: here the store directly, then a chat from a third connection.
    await server.store.appendMessage('alice', conversation.id, { role: 'user', content: 'from the HTTP API' })
    for (const client of [phone, laptop]) {
      const frame = await client.next()
      assert.equal(frame.type, 'message')
      assert.equal(frame.conversation_id, conversation.id)
      assert.equal(frame.message.content, 'from the HTTP API')
      assert.equal(frame.message.role, 'user')
      assert.equal(frame.message.seq, 1)
    }
    unsubscribed.send({ type: 'chat', request_id: 'x', message: 'two words', conversation_id: conversation.id })
    await unsubscribed.stream('x')
    for (const client of [phone, laptop]) {
      const user = await client.next((f) => f.type === 'message')
      const reply = await client.next((f) => f.type === 'message')
      assert.deepEqual([user.message.role, reply.message.role, reply.message.content], ['user', 'assistant', 'two words'])
    }
    bob.send({ type: 'ping' })
    assert.equal((await bob.next()).type, 'pong')
    assert.equal(bob.frames.some((f) => f.type === 'message'), false)
    assert.equal(unsubscribed.frames.some((f) => f.type === 'message'), false)

    laptop.send({ type: 'unsubscribe', conversation_id: conversation.id })
    await laptop.next((f) => f.type === 'unsubscribed')
    await server.store.appendMessage('alice', conversation.id, { role: 'user', content: 'after' })
    assert.equal((await phone.next((f) => f.type === 'message')).message.content, 'after')
    laptop.send({ type: 'ping' })
    assert.equal((await laptop.next()).type, 'pong')

    // Closing drops the subscription: nothing left behind.
    phone.ws.close()
    await phone.closed
    await within(
      (async () => {
        while (server.hub.subscriberCount('alice', conversation.id) > 0) await new Promise((r) => setTimeout(r, 5))
      })(),
    )
    for (const client of [laptop, unsubscribed, bob]) client.ws.close()
  })

  it('tells subscribers when the conversation is deleted', async () => {
    const conversation = await server.store.create('alice', {})
    const client = await server.connect('alice')
    client.send({ type: 'subscribe', conversation_id: conversation.id })
    await client.next((f) => f.type === 'subscribed')
    await server.store.delete('alice', conversation.id)
    assert.deepEqual(await client.next(), { type: 'deleted', conversation_id: conversation.id })
    assert.equal(server.hub.subscriberCount('alice', conversation.id), 0)
    client.ws.close()
  })
})

describe('/ws limits', () => {
  it('closes a frame over max_message_size with 1009', async () => {
    const server = await startWsServer({ hub: { maxMessageSize: 1024 } })
    try {
      const client = await server.connect()
      client.send({ type: 'ping', pad: 'x'.repeat(2000) })
      const { code } = await within(client.closed)
      assert.equal(code, 1009)
    } finally {
      await server.close()
    }
  })

  it('enforces max_message_size in the hub too (runtimes without maxPayload)', async () => {
    const server = await startWsServer({ hub: { maxMessageSize: 100 }, maxPayload: 65_536 })
    try {
      const client = await server.connect()
      client.send({ type: 'ping', pad: 'x'.repeat(200) })
      assert.equal((await within(client.closed)).code, 1009)
      assert.equal(server.hub.size, 0)
    } finally {
      await server.close()
    }
  })

  it('answers frames over the token bucket with rate_limited, stays open, and refills with time', async () => {
    const clock = new ManualClock()
    const server = await startWsServer({ hub: { burst: 3, messagesPerSecond: 1, clock } })
    try {
      const client = await server.connect()
      for (let i = 0; i < 6; i++) client.send({ type: 'ping' })
      const frames = []
      for (let i = 0; i < 6; i++) frames.push(await client.next())
      assert.deepEqual(frames.map((f) => f.type === 'pong' ? 'pong' : f.code), ['pong', 'pong', 'pong', 'rate_limited', 'rate_limited', 'rate_limited'])
      assert.equal(client.ws.readyState, WebSocket.OPEN)
      await clock.advance(1_000)
      for (let i = 0; i < 2; i++) client.send({ type: 'ping' })
      const later = [await client.next(), await client.next()]
      assert.deepEqual(later.map((f) => f.type === 'pong' ? 'pong' : f.code), ['pong', 'rate_limited'], 'one token a second')
    } finally {
      await server.close()
    }
  })

  it('closes a slow consumer with 1013 instead of buffering without bound', async () => {
    const server = await startWsServer({ hub: { maxBufferedBytes: 256 * 1024, burst: 1000, messagesPerSecond: 1000 } })
    try {
      const conversation = await server.store.create('alice', {})
      const client = await server.connect()
      client.send({ type: 'subscribe', conversation_id: conversation.id })
      await client.next((f) => f.type === 'subscribed')
      // Stop reading: the kernel buffers fill, then ws's, then the hub gives up.
      const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
      socket.pause()
      const content = 'y'.repeat(64 * 1024)
      for (let i = 0; i < 2000 && server.hub.size > 0; i++) {
        await server.store.appendMessage('alice', conversation.id, { role: 'assistant', content })
      }
      assert.equal(server.hub.size, 0, 'the slow consumer was not dropped')
      socket.resume()
      const { code, reason } = await within(client.closed, 5000)
      assert.equal(code, 1013)
      assert.equal(reason, 'slow consumer')
    } finally {
      await server.close()
    }
  })

  it('pings idle clients and closes one that never answers', async () => {
    // The shipped ping_period (54 s) and pong_wait (60 s).
    const clock = new ManualClock()
    const server = await startWsServer({ hub: { clock } })
    try {
      const healthy = await server.connect()
      let pings = 0
      healthy.ws.on('ping', () => pings++)
      const silent = await server.connect('alice', { autoPong: false })
      let silentPings = 0
      silent.ws.on('ping', () => silentPings++)
      await clock.advance(54_000)
      await within((async () => {
        while (pings < 1 || silentPings < 1) await new Promise((resolve) => setImmediate(resolve))
      })(), 3000, 'the first pings')
      // A ping frame after the pong: answered, so the hub has seen the pong when this comes back.
      healthy.send({ type: 'ping' })
      await healthy.next((f) => f.type === 'pong')
      assert.equal(silent.ws.readyState, WebSocket.OPEN, 'silent for 54 s is within pong_wait')
      await clock.advance(54_000)
      const { code, reason } = await within(silent.closed, 3000)
      assert.equal(code, 1001)
      assert.equal(reason, 'pong timeout')
      assert.equal(healthy.ws.readyState, WebSocket.OPEN)
      assert.equal(server.hub.size, 1)
      healthy.ws.close()
    } finally {
      await server.close()
    }
  })

  it('closeAll closes every client with 1001 and updates the metrics', async () => {
    const server = await startWsServer()
    try {
      const clients = await Promise.all([server.connect('alice'), server.connect('alice'), server.connect('bob')])
      clients[0].send({ type: 'ping' })
      await clients[0].next()
      const before = await server.registry.getSingleMetricAsString('ws_connections')
      assert.match(before, /^ws_connections 3$/m)
      assert.equal(server.hub.closeAll(), 3)
      for (const client of clients) assert.equal((await within(client.closed)).code, 1001)
      assert.match(await server.registry.getSingleMetricAsString('ws_connections'), /^ws_connections 0$/m)
      const messages = await server.registry.getSingleMetricAsString('ws_messages_total')
      assert.match(messages, /direction="in"} 1$/m)
      assert.match(messages, /direction="out"} 1$/m)
    } finally {
      await server.close()
    }
  })
})
