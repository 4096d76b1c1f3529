import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import WebSocket from 'ws'
import { as, call, jsonBody, type E2ETarget, type TargetRef } from './client.ts'

type Frame = Record<string, any>

/** A `ws` client that records every frame; `next()` waits (bounded) for the next matching one. */
class WsClient {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  #read = 0
  #wake: (() => void) | undefined

  constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()))
      this.#wake?.()
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => (this.#wake?.(), resolve({ code, reason: reason.toString() }))))
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The next unread frame matching `match`; frames before it are consumed. */
  async next(match: (frame: Frame) => boolean = () => true, timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.#read < this.frames.length) {
        const frame = this.frames[this.#read++]
        if (match(frame)) return frame
      }
      const left = deadline - Date.now()
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching frame within ${timeoutMs} ms (state ${this.ws.readyState}); last: ${JSON.stringify(this.frames.slice(-5))}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => (clearTimeout(timer), resolve())
      })
      this.#wake = undefined
    }
  }

  /** Any frame received so far or later that matches, without consuming anything. */
  async seen(match: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.find(match)
      if (found) return found
      const left = deadline - Date.now()
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching frame within ${timeoutMs} ms (state ${this.ws.readyState}); last: ${JSON.stringify(this.frames.slice(-5))}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => (clearTimeout(timer), resolve())
      })
      this.#wake = undefined
    }
  }

  /** Frames of one chat (`request_id`) up to `done` or `error`. */
  async stream(requestId: string): Promise<Frame[]> {
    const frames: Frame[] = []
    for (let i = 0; i < 5000; i++) {
      const frame = await this.next((f) => f.request_id === requestId)
      frames.push(frame)
      if (frame.type === 'done' || frame.type === 'error') return frames
    }
    throw new Error(`chat ${requestId} did not end within 5000 frames`)
  }
}

const wsUrl = (target: E2ETarget, query = '') => `${target.baseUrl.replace(/^http/, 'ws')}/ws${query}`

/** The upgrade's outcome: `open`, or the HTTP status and body the server refused it with. */
function handshake(ws: WebSocket): Promise<{ open: true } | { open: false; status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('no handshake answer within 10 s'))), 10_000)
    ws.once('open', () => (clearTimeout(timer), resolve({ open: true })))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk))
      res.on('end', () => {
        clearTimeout(timer)
        resolve({ open: false, status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body })
        ws.terminate()
      })
    })
    ws.once('error', (error) => (clearTimeout(timer), reject(error)))
  })
}

/**
 * `/ws` with the `ws` client: authentication at the upgrade, ping/pong, chat streaming, subscription
 * fan-out of messages persisted over HTTP, and error frames. When a runtime's entrypoint does not wire
 * the upgrade, every check here fails (a 404 or 426 instead of an open socket).
 */
export function webSocketChecks(target: TargetRef): void {
  describe('/ws', () => {
    const open = new Set<WsClient>()
    after(async () => {
      for (const client of open) client.ws.terminate()
    })

    async function connect(key: string, how: 'header' | 'query' = 'header'): Promise<WsClient> {
      const ws =
        how === 'header'
          ? new WebSocket(wsUrl(target()), { headers: { authorization: `Bearer ${key}` } })
          : new WebSocket(wsUrl(target(), `?token=${encodeURIComponent(key)}`))
      const client = new WsClient(ws)
      open.add(client)
      const outcome = await handshake(ws)
      assert.ok(outcome.open, `the upgrade was refused: ${JSON.stringify(outcome)}`)
      return client
    }

    async function close(client: WsClient): Promise<void> {
      client.ws.close(1000)
      await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 5_000))])
      client.ws.terminate()
      open.delete(client)
    }

    it('after an upgrade the server still serves, and the upgrade is logged at info', async () => {
      // At the shipped log level the access log writes a line for the upgrade; on Deno reading the peer
      // address for it once stopped the listener (the socket never opened, then /health was refused).
      const client = await connect(target().users.alice.key)
      client.send({ type: 'ping' })
      assert.deepEqual(await client.next(), { type: 'pong' })
      await close(client)
      for (let i = 0; i < 3; i++) assert.equal((await call(target(), '/health')).status, 200)
      // Log lines reach the file in batches (at most 250 ms late on Node, Bun and Deno).
      const deadline = Date.now() + 5_000
      let line: Record<string, any> | undefined
      while (!(line = target().logLines().find((l) => l.path === '/ws' && l.msg === 'request completed')) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.ok(line, `no access log line for /ws; last lines: ${JSON.stringify(target().logLines().slice(-3))}`)
      assert.equal(line.level, 30)
    })

    it('refuses an upgrade without a valid key with a 401 problem', async () => {
      // Each socket is made just before its listeners: one made earlier could be answered (and emit an
      // unhandled 'error') before `handshake` listens.
      for (const query of ['', '?token=not-a-key-0123456789']) {
        const outcome = await handshake(new WebSocket(wsUrl(target(), query)))
        assert.equal(outcome.open, false, 'the socket opened without a key')
        if (outcome.open) continue
        assert.equal(outcome.status, 401)
        assert.match(outcome.contentType, /^application\/problem\+json/)
        assert.equal(JSON.parse(outcome.body).status, 401)
      }
    })

    it('accepts the key as a Bearer header or ?token=, and answers ping with pong', async () => {
      const { alice } = target().users
      for (const how of ['header', 'query'] as const) {
        const client = await connect(alice.key, how)
        client.send({ type: 'ping' })
        assert.deepEqual(await client.next(), { type: 'pong' })
        await close(client)
      }
    })

    it('answers bad JSON and an unknown type with error frames and stays open', async () => {
      const client = await connect(target().users.alice.key)
      client.send('{not json')
      const bad = await client.next()
      assert.deepEqual([bad.type, bad.code], ['error', 'bad_json'])
      assert.equal(typeof bad.message, 'string')
      client.send({ type: 'teleport' })
      const unknown = await client.next()
      assert.deepEqual([unknown.type, unknown.code], ['error', 'unknown_type'])
      client.send({ type: 'ping' })
      assert.equal((await client.next()).type, 'pong')
      assert.equal(client.ws.readyState, WebSocket.OPEN)
      await close(client)
    })

    it('streams a chat: started, deltas with increasing seq, then done; the reply is persisted', async () => {
      const { alice } = target().users
      const client = await connect(alice.key)
      client.send({ type: 'chat', request_id: 'e2e-1', message: 'hello over the socket' })
      const frames = await client.stream('e2e-1')
      assert.equal(frames[0].type, 'started')
      const conversationId = frames[0].conversation_id
      const deltas = frames.filter((f) => f.type === 'delta')
      const reply = deltas.map((f) => f.delta).join('')
      assert.match(reply, /^You said: "hello over the socket"/)
      const seqs = deltas.map((f) => f.seq)
      assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'seq increases by one')
      const done = frames.at(-1)!
      assert.equal(done.type, 'done', JSON.stringify(done))
      assert.equal(done.conversation_id, conversationId)
      assert.ok(done.tokens_used > 0)
      const shown = await call(target(), `/api/v1/conversations/${conversationId}`, as(alice.key))
      assert.equal(shown.status, 200, shown.text)
      assert.equal(shown.json().messages.at(-1).content, reply)
      await close(client)
    })

    it('stops a running chat with a stop frame; the reply is persisted as stopped', async () => {
      const { alice } = target().users
      const client = await connect(alice.key)
      const words = Array.from({ length: 100 }, (_, i) => `word${i}`).join(' ')
      client.send({ type: 'chat', request_id: 'e2e-stop', message: `e2e ${words}` })
      const started = await client.next((f) => f.type === 'started')
      await client.next((f) => f.type === 'delta')
      client.send({ type: 'stop', conversation_id: started.conversation_id })
      assert.deepEqual(await client.next((f) => f.type === 'stopped'), { type: 'stopped', conversation_id: started.conversation_id })
      const frames = await client.stream('e2e-stop')
      assert.equal(frames.at(-1)!.type, 'done', JSON.stringify(frames.at(-1)))
      const shown = await call(target(), `/api/v1/conversations/${started.conversation_id}`, as(alice.key))
      assert.equal(shown.status, 200, shown.text)
      const saved = shown.json().messages.at(-1)
      assert.deepEqual([saved.role, saved.status], ['assistant', 'stopped'])
      assert.doesNotMatch(saved.content, /word99/)
      await close(client)
    })

    it('fans a persisted message out to every subscribed connection of the owner, none to others', async () => {
      const { alice, bob } = target().users
      const conversationId = (await call(target(), '/api/v1/conversations', as(alice.key, jsonBody({ title: 'sync' })))).json().id
      const phone = await connect(alice.key)
      const laptop = await connect(alice.key, 'query')
      const intruder = await connect(bob.key)
      for (const client of [phone, laptop]) {
        client.send({ type: 'subscribe', conversation_id: conversationId })
        assert.deepEqual(await client.next(), { type: 'subscribed', conversation_id: conversationId })
      }
      // Bob may not subscribe to Alice's conversation: it looks like a missing one.
      intruder.send({ type: 'subscribe', conversation_id: conversationId })
      const refused = await intruder.next()
      assert.deepEqual([refused.type, refused.code], ['error', 'not_found'])

      let reply: string
      if (target().crossRequestIo) {
        // Persisted by an HTTP request: every subscribed socket of Alice's hears of it.
        const res = await call(target(), '/api/v1/chat', as(alice.key, jsonBody({ message: 'sync me', conversation_id: conversationId })))
        assert.equal(res.status, 200, res.text)
        reply = res.json().message
      } else {
        // workerd: the hub may write only to the socket of the request that persisted the message, so
        // the chat goes over the phone's own socket and its own subscription hears of it.
        phone.send({ type: 'chat', request_id: 'sync', message: 'sync me', conversation_id: conversationId })
        reply = (await phone.stream('sync')).filter((f) => f.type === 'delta').map((f) => f.delta).join('')
      }
      for (const client of target().crossRequestIo ? [phone, laptop] : [phone]) {
        const user = await client.seen((f) => f.type === 'message' && f.message.role === 'user')
        assert.equal(user.conversation_id, conversationId)
        assert.equal(user.message.content, 'sync me')
        const saved = await client.seen((f) => f.type === 'message' && f.message.role === 'assistant' && f.message.status === 'complete')
        assert.equal(saved.message.content, reply)
      }
      intruder.send({ type: 'ping' })
      assert.equal((await intruder.next()).type, 'pong')
      assert.equal(intruder.frames.some((f) => f.type === 'message'), false, 'Bob received none of it')

      laptop.send({ type: 'unsubscribe', conversation_id: conversationId })
      assert.equal((await laptop.next((f) => f.type === 'unsubscribed')).conversation_id, conversationId)
      for (const client of [phone, laptop, intruder]) await close(client)
    })

    it('fans out a /v1 completion stored with X-Conversation-Id to the subscribed sockets', async () => {
      const { alice } = target().users
      const conversationId = `openai-sync-${Date.now()}`
      const client = await connect(alice.key)
      const complete = () =>
        call(target(), '/v1/chat/completions', {
          method: 'POST',
          headers: { authorization: `Bearer ${alice.key}`, 'content-type': 'application/json', 'x-conversation-id': conversationId },
          body: JSON.stringify({ model: 'builtin', messages: [{ role: 'user', content: 'from an OpenAI client' }] }),
        })
      // The first completion creates the conversation, so it can be subscribed to.
      const first = await complete()
      assert.equal(first.status, 200, first.text)
      client.send({ type: 'subscribe', conversation_id: conversationId })
      assert.deepEqual(await client.next(), { type: 'subscribed', conversation_id: conversationId })
      if (target().crossRequestIo) {
        const second = await complete()
        const reply = second.json().choices[0].message.content
        const saved = await client.seen((f) => f.type === 'message' && f.message.role === 'assistant' && f.message.content === reply)
        assert.equal(saved.conversation_id, conversationId)
      }
      // workerd: the hub may not write to this socket from another request; the store shows the exchange.
      const shown = await call(target(), `/api/v1/conversations/${conversationId}`, as(alice.key))
      assert.deepEqual(shown.json().messages.slice(0, 2).map((m: { role: string }) => m.role), ['user', 'assistant'])
      await close(client)
    })
  })
}
