import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { Registry } from 'prom-client'
import WebSocket from 'ws'
import { sha256Hex } from '../../src/config/index.ts'
import type { AppEnv } from '../../src/env.ts'
import { HttpProblem, problems } from '../../src/kernel/problem.ts'
import { EventBus, withMessageEvents, type PersistenceEvents } from '../../src/events/index.ts'
import type { ChatEvent, ChatGateway, ChatJob, ChatListener } from '../../src/features/ws/gateway.ts'
import { Hub, type HubOptions } from '../../src/features/ws/hub.ts'
import { wsRoutes } from '../../src/features/ws/ws.routes.ts'
import { Authenticator } from '../../src/middleware/auth/authenticator.ts'
import { recovery } from '../../src/middleware/recovery/index.ts'
import { createNodeWebSocket } from '../../src/runtimes/node-websocket.ts'
import type { Conversation, ConversationStore, Message, NewMessage } from '../../src/storage/ports.ts'
import { KEYS } from '../helpers/app.ts'
import { scopeOf } from '../../src/pipeline/index.ts'

export { KEYS }

/** Just enough of a conversation store for the hub and the fake gateway. */
export class FakeConversationStore implements ConversationStore {
  readonly conversations = new Map<string, Conversation>()
  readonly messages = new Map<string, Message[]>()
  #next = 1

  async count(userId: string): Promise<number> {
    return [...this.conversations.values()].filter((conversation) => conversation.userId === userId).length
  }

  async create(userId: string, input: { id?: string; title?: string | null }): Promise<Conversation> {
    const id = input.id ?? `c${this.#next++}`
    const conversation: Conversation = {
      id,
      userId,
      title: input.title ?? null,
      metadata: {},
      createdAt: 0,
      updatedAt: 0,
      messageCount: 0,
      version: 1,
    }
    this.conversations.set(id, conversation)
    this.messages.set(id, [])
    return conversation
  }
  async get(userId: string, id: string) {
    const conversation = this.conversations.get(id)
    return conversation && conversation.userId === userId ? conversation : null
  }
  async list() {
    return { items: [], nextCursor: null }
  }
  async update() {
    return null
  }
  async delete(userId: string, id: string) {
    if (!(await this.get(userId, id))) return false
    this.conversations.delete(id)
    this.messages.delete(id)
    return true
  }
  async appendMessage(userId: string, conversationId: string, input: NewMessage): Promise<Message | null> {
    const conversation = await this.get(userId, conversationId)
    if (!conversation) return null
    const list = this.messages.get(conversationId)!
    const message: Message = {
      id: `m${this.#next++}`,
      conversationId,
      seq: list.length + 1,
      role: input.role,
      content: input.content,
      status: input.status ?? 'complete',
      createdAt: 0,
    }
    list.push(message)
    conversation.messageCount = list.length
    return message
  }
  async listMessages() {
    return null
  }
  async dropMessagesAfter() {
    return null
  }
}

interface FakeJob extends ChatJob {
  userId: string
  log: ChatEvent[]
  listeners: Set<ChatListener>
  finished: boolean
  stop(): void
}

/**
 * A scripted chat pipeline: streams the words of the message as deltas on the next ticks, persists
 * both messages through the store, and ends with `done`. A message starting with `hold` stops after
 * its first delta until stopped; `fail` ends with an error event.
 */
export class FakeChatGateway implements ChatGateway {
  readonly jobs = new Map<string, FakeJob>()
  readonly store: ConversationStore
  #streams = 0

  constructor(store: ConversationStore) {
    this.store = store
  }

  listenerCount(): number {
    let total = 0
    for (const job of this.jobs.values()) total += job.listeners.size
    return total
  }

  async start(userId: string, input: { message: string; conversationId?: string; requestId: string }): Promise<ChatJob> {
    let conversationId = input.conversationId
    if (conversationId === undefined) conversationId = (await this.store.create(userId, {})).id
    else if (!(await this.store.get(userId, conversationId))) throw problems.notFound('Conversation not found')
    if (this.jobs.get(conversationId)?.finished === false) throw problems.conflict('A generation is already running')
    await this.store.appendMessage(userId, conversationId, { role: 'user', content: input.message })
    const words = input.message.split(' ')
    const job: FakeJob = {
      userId,
      conversationId,
      streamId: `s${++this.#streams}`,
      log: [],
      listeners: new Set(),
      finished: false,
      subscribe(afterSeq, listener) {
        for (const event of job.log) if (event.seq > afterSeq) listener(event)
        if (job.finished) return () => {}
        job.listeners.add(listener)
        return () => void job.listeners.delete(listener)
      },
      stop: () => void finish('stopped'),
    }
    const emit = (event: Omit<ChatEvent, 'seq'>) => {
      const full = { ...event, seq: job.log.length + 1 } as ChatEvent
      job.log.push(full)
      for (const listener of job.listeners) listener(full)
    }
    const reply: string[] = []
    const finish = async (status: 'complete' | 'stopped') => {
      if (job.finished) return
      job.finished = true
      const saved = await this.store.appendMessage(userId, conversationId, { role: 'assistant', content: reply.join(' '), status })
      emit({ type: 'done', data: { message_id: saved!.id, conversation_id: conversationId, model: 'fake', tokens_used: reply.length } })
      job.listeners.clear()
    }
    this.jobs.set(conversationId, job)
    const hold = words[0] === 'hold'
    const fail = words[0] === 'fail'
    void (async () => {
      for (const [index, word] of words.entries()) {
        await new Promise((resolve) => setImmediate(resolve))
        if (job.finished) return
        reply.push(word)
        emit({ type: 'message', data: { delta: index === 0 ? word : ` ${word}` } })
        if (hold) return
      }
      if (fail) {
        job.finished = true
        emit({ type: 'error', data: { problem: { status: 502, title: 'Bad Gateway', detail: 'The AI service failed' } } })
        job.listeners.clear()
        return
      }
      await finish('complete')
    })()
    return job
  }

  stop(userId: string, conversationId: string): boolean {
    const job = this.jobs.get(conversationId)
    if (!job || job.userId !== userId || job.finished) return false
    job.stop()
    return true
  }

  resume(userId: string, conversationId: string, afterSeq: number, listener: ChatListener) {
    const job = this.jobs.get(conversationId)
    if (!job || job.userId !== userId) return null
    return job.subscribe(afterSeq, listener)
  }
}

export interface TestServerOptions {
  hub?: Partial<Omit<HubOptions, 'gateway' | 'conversations' | 'events' | 'registry'>>
  allowedOrigins?: string[]
  /** `ws`'s own limit; default the hub's `maxMessageSize`. */
  maxPayload?: number
}

/** A real Node server on 127.0.0.1:0 with `/ws` and nothing else, as the app chain would see it. */
export async function startWsServer(options: TestServerOptions = {}) {
  const bus = new EventBus<PersistenceEvents>()
  const raw = new FakeConversationStore()
  const store = withMessageEvents(raw, bus)
  const gateway = new FakeChatGateway(store)
  const registry = new Registry()
  const logger = pino({ level: 'silent' })
  const maxMessageSize = options.hub?.maxMessageSize ?? 65_536
  const hub = new Hub({ gateway, conversations: store, events: bus, registry, logger, ...options.hub })
  const authenticator = new Authenticator({
    mode: 'api_key',
    api_keys: [
      { user: 'alice', sha256: await sha256Hex(KEYS.alice) },
      { user: 'bob', sha256: await sha256Hex(KEYS.bob) },
    ],
  })
  const nodeWs = createNodeWebSocket({ maxPayload: options.maxPayload ?? maxMessageSize })
  const app = new Hono<AppEnv>()
  app.use(async (c, next) => {
    c.set('requestId', 'test-request')
    scopeOf(c).header('x-request-id', 'test-request')
    await next()
  })
  app.route(
    '/',
    wsRoutes({ upgradeWebSocket: nodeWs.upgradeWebSocket, hub, authenticator, allowedOrigins: options.allowedOrigins ?? ['https://app.example.com'] }),
  )
  app.onError(recovery({ logger }))
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
    nodeWs.websocket.attach(s, app.fetch)
  })
  const { port } = server.address() as AddressInfo
  const clients = new Set<WebSocket>()
  return {
    hub,
    bus,
    store,
    gateway,
    registry,
    base: `http://127.0.0.1:${port}`,
    url: `ws://127.0.0.1:${port}/ws`,
    /** A connected client for `user`, closed by `close()`. */
    async connect(user: keyof typeof KEYS = 'alice', clientOptions: WebSocket.ClientOptions = {}): Promise<TestClient> {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${KEYS[user]}` }, ...clientOptions })
      clients.add(ws)
      const client = new TestClient(ws)
      await client.opened
      return client
    },
    /** Raw client for handshake tests. */
    raw(url: string, clientOptions: WebSocket.ClientOptions = {}): WebSocket {
      const ws = new WebSocket(url, clientOptions)
      clients.add(ws)
      return ws
    },
    async close(): Promise<void> {
      for (const ws of clients) ws.terminate()
      hub.close()
      await nodeWs.close()
      ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type WsServer = Awaited<ReturnType<typeof startWsServer>>

/** Collects frames; `next()` waits (bounded) for the next one matching. */
export class TestClient {
  readonly ws: WebSocket
  readonly frames: Record<string, any>[] = []
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number; reason: string }>
  #waiters: (() => void)[] = []
  #read = 0

  constructor(ws: WebSocket) {
    this.ws = ws
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()))
      for (const wake of this.#waiters.splice(0)) wake()
    })
    ws.on('close', () => {
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The next unread frame matching `match` (frames before it are consumed). */
  async next(match: (frame: Record<string, any>) => boolean = () => true, timeoutMs = 3000): Promise<Record<string, any>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.#read < this.frames.length) {
        const frame = this.frames[this.#read++]
        if (match(frame)) return frame
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Frames of one request up to and including its `done`/`error`. */
  async stream(requestId: string): Promise<Record<string, any>[]> {
    const frames: Record<string, any>[] = []
    for (;;) {
      const frame = await this.next((f) => f.request_id === requestId)
      frames.push(frame)
      if (frame.type === 'done' || frame.type === 'error') return frames
    }
  }
}

/** Resolves within `ms` or rejects; keeps a hanging promise from hanging the test. */
export function within<T>(promise: Promise<T>, ms = 3000, what = 'operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout>
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** The status and headers of a refused upgrade. */
export function refusal(ws: WebSocket): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return within(
    new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers })
        res.resume()
        ws.terminate()
      })
      ws.once('open', () => reject(new Error('the upgrade was accepted')))
      ws.once('error', () => {})
    }),
    3000,
    'refusal',
  )
}

export { HttpProblem }
