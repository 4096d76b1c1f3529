import type { WSContext, WSEvents, WSMessageReceive } from 'hono/ws'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Config } from '../../config/index.ts'
import type { Principal } from '../../env.ts'
import { toProblem } from '../../errors/problem.ts'
import type { EventBus, PersistenceEvents, Unsubscribe } from '../../events/index.ts'
import type { ConversationStore } from '../../storage/ports.ts'
import type { ChatEvent, ChatGateway, ChatListener, Detach } from './gateway.ts'
import { codeForStatus, messageJson, parseClientFrame, type ClientFrame, type ErrorCode } from './protocol.ts'

/** WebSocket close codes (RFC 6455 §7.4.1). */
export const CloseCode = {
  goingAway: 1001,
  messageTooBig: 1009,
  tryAgainLater: 1013,
} as const

export interface HubOptions {
  gateway: ChatGateway
  /** Ownership checks for `subscribe`. */
  conversations: Pick<ConversationStore, 'get'>
  /** Where persisted messages are announced (see `withMessageEvents`); without it `subscribe` delivers nothing. */
  events?: EventBus<PersistenceEvents>
  /** Gets `ws_connections` and `ws_messages_total{direction}`. Default: no metrics. */
  registry?: Registry
  /** Pipeline failures (5xx) are logged here, never frame contents. Default: not logged. */
  logger?: Logger
  /** Default `Date.now`. */
  now?: () => number
  /** Bytes; a larger frame closes the connection with 1009. Default 65536. */
  maxMessageSize?: number
  /** Milliseconds between liveness sweeps; idle clients are pinged. Default 54000. */
  pingPeriod?: number
  /** Milliseconds without a pong (or any frame) after which a client is closed. Default 60000. */
  pongWait?: number
  /** Milliseconds a closing slow or dead client gets before its socket is destroyed. Default 10000. */
  writeWait?: number
  /** Frames sent while the socket's buffer never emptied; more closes with 1013. Default 256. */
  sendQueueSize?: number
  /** Bytes buffered for a client; more closes with 1013. Default 1 MiB (Bun's `backpressureLimit`). */
  maxBufferedBytes?: number
  /** Token bucket refill per second for client frames. Default 10. */
  messagesPerSecond?: number
  /** Token bucket capacity. Default 20. */
  burst?: number
  /** Conversations one connection may subscribe to. Default 100. */
  maxSubscriptions?: number
}

/** The hub options that come from `server.websocket` in the config. */
export function hubSettings(ws: Config['server']['websocket']) {
  return {
    maxMessageSize: ws.max_message_size,
    pingPeriod: ws.ping_period,
    pongWait: ws.pong_wait,
    writeWait: ws.write_wait,
    sendQueueSize: ws.send_queue_size,
    messagesPerSecond: ws.messages_per_second,
    burst: ws.burst,
  } satisfies Partial<HubOptions>
}

/** Per-connection state; registered on the raw socket of runtimes with a native ping API. */
const CONNECTION = Symbol('ws.connection')

/** A socket with `ws`'s ping API (Node); Bun's raw socket has `ping()` but its pongs are not observable. */
interface PingableSocket {
  ping(): void
  on(event: 'pong', listener: (this: PingableSocket) => void): unknown
  terminate?(): void
  [CONNECTION]?: Connection
}

/**
 * One client. It is itself the `WSEvents` handed to `upgradeWebSocket`: every adapter calls the
 * handlers as methods, so a connection costs one object and no closures. The `WSContext` argument is
 * used only for sending — on Bun a new one is built per event, so nothing is keyed by it.
 */
class Connection implements WSEvents {
  readonly id: number
  readonly userId: string
  readonly hub: Hub
  ws: WSContext | null = null
  open = false
  tokens: number
  refilledAt: number
  lastSeen: number
  /** Frames sent since the socket's buffer was last seen empty. */
  backlog = 0
  /** Native ping (`ws`) or app-level `{type: "ping"}` frames. */
  nativePing = false
  /** Hub subscription keys; created on first subscribe. */
  subscriptions: Set<string> | null = null
  /** Attached chat streams by key; created on first chat/resume. */
  streams: Map<string, Detach> | null = null

  constructor(hub: Hub, id: number, userId: string, tokens: number, now: number) {
    this.hub = hub
    this.id = id
    this.userId = userId
    this.tokens = tokens
    this.refilledAt = now
    this.lastSeen = now
  }

  onOpen(_event: Event, ws: WSContext): void {
    this.hub.opened(this, ws)
  }

  onMessage(event: MessageEvent<WSMessageReceive>, ws: WSContext): void {
    // Cloudflare has no `onOpen`: the first message opens the connection.
    if (!this.open && this.ws === null) this.hub.opened(this, ws)
    this.hub.received(this, event.data)
  }

  onClose(): void {
    this.hub.closed(this)
  }

  onError(): void {
    this.hub.closed(this)
  }
}

function onNativePong(this: PingableSocket): void {
  const connection = this[CONNECTION]
  if (connection) connection.lastSeen = connection.hub.now()
}

const textEncoder = new TextEncoder()

/** UTF-8 length without encoding when the answer is obvious. */
function byteLength(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length
  return textEncoder.encode(text).byteLength
}

function bufferedAmount(raw: unknown): number | undefined {
  if (raw === null || typeof raw !== 'object') return undefined
  const socket = raw as { bufferedAmount?: unknown; getBufferedAmount?: () => number }
  if (typeof socket.bufferedAmount === 'number') return socket.bufferedAmount
  if (typeof socket.getBufferedAmount === 'function') return socket.getBufferedAmount()
  return undefined
}

function subscriptionKey(userId: string, conversationId: string): string {
  return `${userId}\n${conversationId}`
}

/**
 * The WebSocket hub: our own client ids, per-user conversation subscriptions fed by the persistence
 * events, a token bucket per client, one shared liveness sweep (not a timer per client), bounded
 * send buffers, and `closeAll()` for graceful shutdown. Runtime-neutral: it sees only `WSContext`
 * and, where present, the `ws` library's `raw.ping()`/`'pong'` and `raw.bufferedAmount`.
 */
export class Hub {
  readonly now: () => number
  readonly #gateway: ChatGateway
  readonly #conversations: Pick<ConversationStore, 'get'>
  readonly #logger: Logger | undefined
  readonly #maxMessageSize: number
  readonly #pingPeriod: number
  readonly #pongWait: number
  readonly #writeWait: number
  readonly #sendQueueSize: number
  readonly #maxBufferedBytes: number
  readonly #refillPerMs: number
  readonly #burst: number
  readonly #maxSubscriptions: number
  readonly #connections = new Map<number, Connection>()
  readonly #subscribers = new Map<string, Set<Connection>>()
  readonly #detachEvents: Unsubscribe[] = []
  readonly #connectionsGauge: Gauge | undefined
  readonly #messagesIn: { inc(): void } | undefined
  readonly #messagesOut: { inc(n?: number): void } | undefined
  #nextId = 1
  #sweepTimer: ReturnType<typeof setInterval> | undefined
  #closed = false

  constructor(options: HubOptions) {
    this.now = options.now ?? Date.now
    this.#gateway = options.gateway
    this.#conversations = options.conversations
    this.#logger = options.logger
    this.#maxMessageSize = options.maxMessageSize ?? 65_536
    this.#pingPeriod = options.pingPeriod ?? 54_000
    this.#pongWait = options.pongWait ?? 60_000
    this.#writeWait = options.writeWait ?? 10_000
    this.#sendQueueSize = options.sendQueueSize ?? 256
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 1_048_576
    this.#refillPerMs = (options.messagesPerSecond ?? 10) / 1000
    this.#burst = options.burst ?? 20
    this.#maxSubscriptions = options.maxSubscriptions ?? 100
    if (options.registry) {
      const registry = options.registry
      this.#connectionsGauge =
        (registry.getSingleMetric('ws_connections') as Gauge | undefined) ??
        new Gauge({ name: 'ws_connections', help: 'Open WebSocket connections', registers: [registry] })
      const messages =
        (registry.getSingleMetric('ws_messages_total') as Counter<'direction'> | undefined) ??
        new Counter({
          name: 'ws_messages_total',
          help: 'WebSocket frames received (in) and sent (out)',
          labelNames: ['direction'],
          registers: [registry],
        })
      this.#messagesIn = messages.labels('in')
      this.#messagesOut = messages.labels('out')
    }
    if (options.events) {
      this.#detachEvents.push(
        options.events.subscribe('message.appended', (event) => this.#messageAppended(event)),
        options.events.subscribe('conversation.deleted', (event) => this.#conversationDeleted(event)),
      )
    }
  }

  /** Open connections. */
  get size(): number {
    return this.#connections.size
  }

  /** Connections subscribed to the user's conversation; for tests and diagnostics. */
  subscriberCount(userId: string, conversationId: string): number {
    return this.#subscribers.get(subscriptionKey(userId, conversationId))?.size ?? 0
  }

  /** The `WSEvents` for one authenticated upgrade. */
  connect(user: Principal): WSEvents {
    const connection = new Connection(this, this.#nextId++, user.id, this.#burst, this.now())
    return connection
  }

  /** Closes every client with 1001 (graceful shutdown) and stops the sweep. Returns how many were closed. */
  closeAll(reason = 'server shutting down'): number {
    const connections = [...this.#connections.values()]
    for (const connection of connections) this.#evict(connection, CloseCode.goingAway, reason)
    this.#stopSweep()
    return connections.length
  }

  /** `closeAll()` and detach from the event bus; the hub accepts no connections afterwards. */
  close(): void {
    this.#closed = true
    this.closeAll()
    for (const detach of this.#detachEvents.splice(0)) detach()
  }

  // ---- called by Connection ----

  opened(connection: Connection, ws: WSContext): void {
    connection.ws = ws
    if (this.#closed) {
      ws.close(CloseCode.goingAway, 'server shutting down')
      return
    }
    connection.open = true
    this.#connections.set(connection.id, connection)
    this.#connectionsGauge?.inc()
    const raw = ws.raw as Partial<PingableSocket> | undefined
    if (raw && typeof raw.ping === 'function' && typeof raw.on === 'function') {
      connection.nativePing = true
      raw[CONNECTION] = connection
      raw.on('pong', onNativePong)
    }
    this.#startSweep()
  }

  received(connection: Connection, data: WSMessageReceive): void {
    if (!connection.open) return
    this.#messagesIn?.inc()
    const now = this.now()
    connection.lastSeen = now
    const size = typeof data === 'string' ? byteLength(data, this.#maxMessageSize) : 'size' in data ? data.size : data.byteLength
    if (size > this.#maxMessageSize) {
      this.#evict(connection, CloseCode.messageTooBig, `message exceeds ${this.#maxMessageSize} bytes`)
      return
    }
    connection.tokens = Math.min(this.#burst, connection.tokens + (now - connection.refilledAt) * this.#refillPerMs)
    connection.refilledAt = now
    if (connection.tokens < 1) {
      this.#error(connection, 'rate_limited', 'Too many messages; slow down')
      return
    }
    connection.tokens -= 1
    if (typeof data !== 'string') {
      this.#error(connection, 'unsupported_data', 'Binary frames are not supported; send JSON text')
      return
    }
    const parsed = parseClientFrame(data)
    if (!parsed.ok) {
      this.#error(connection, parsed.code, parsed.message, parsed.requestId)
      return
    }
    this.#handle(connection, parsed.frame).catch((error: unknown) => this.#failed(connection, error))
  }

  closed(connection: Connection): void {
    if (!connection.open) return
    connection.open = false
    this.#connections.delete(connection.id)
    this.#connectionsGauge?.dec()
    if (connection.subscriptions) {
      for (const key of connection.subscriptions) this.#removeSubscriber(key, connection)
      connection.subscriptions = null
    }
    if (connection.streams) {
      // Detach only: the jobs run on and persist their replies.
      for (const detach of connection.streams.values()) detach()
      connection.streams = null
    }
    const raw = connection.ws?.raw as Partial<PingableSocket> | undefined
    if (raw && connection.nativePing) raw[CONNECTION] = undefined
    if (this.#connections.size === 0) this.#stopSweep()
  }

  // ---- protocol ----

  async #handle(connection: Connection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ping':
        this.#send(connection, { type: 'pong' })
        return
      case 'pong':
        return
      case 'chat':
        return this.#chat(connection, frame.request_id, frame.message, frame.conversation_id)
      case 'stop': {
        const stopped = await this.#gateway.stop(connection.userId, frame.conversation_id)
        if (stopped) this.#send(connection, { type: 'stopped', conversation_id: frame.conversation_id })
        else this.#error(connection, 'not_found', 'No active generation for this conversation')
        return
      }
      case 'resume':
        return this.#resume(connection, frame.conversation_id, frame.after, frame.request_id)
      case 'subscribe':
        return this.#subscribe(connection, frame.conversation_id)
      case 'unsubscribe': {
        const key = subscriptionKey(connection.userId, frame.conversation_id)
        if (connection.subscriptions?.delete(key)) this.#removeSubscriber(key, connection)
        this.#send(connection, { type: 'unsubscribed', conversation_id: frame.conversation_id })
        return
      }
    }
  }

  async #chat(connection: Connection, requestId: string, message: string, conversationId: string | undefined): Promise<void> {
    const streams = (connection.streams ??= new Map())
    if (streams.has(requestId)) {
      this.#error(connection, 'duplicate_request', 'A stream with this request_id is already running', requestId)
      return
    }
    // Reserved before the await so a second frame with the same id is refused.
    streams.set(requestId, () => {})
    let job
    try {
      job = await this.#gateway.start(connection.userId, { message, conversationId, requestId })
    } catch (error) {
      connection.streams?.delete(requestId)
      this.#failed(connection, error, requestId)
      return
    }
    if (!connection.open) return
    this.#send(connection, { type: 'started', request_id: requestId, conversation_id: job.conversationId, stream_id: job.streamId })
    await this.#attach(connection, requestId, requestId, (listener) => job.subscribe(0, listener))
  }

  async #resume(connection: Connection, conversationId: string, after: number, requestId: string | undefined): Promise<void> {
    const key = requestId ?? `resume\n${conversationId}`
    const streams = (connection.streams ??= new Map())
    // A second resume of the same stream replaces the first rather than duplicating every frame.
    streams.get(key)?.()
    const attached = await this.#attach(connection, key, requestId ?? null, (listener) =>
      this.#gateway.resume(connection.userId, conversationId, after, listener),
    )
    if (!attached && connection.open) {
      this.#send(connection, { type: 'no_active', conversation_id: conversationId, request_id: requestId ?? null })
    }
  }

  /** Forwards one job's events until `done`/`error` or disconnect; false when there was nothing to attach to. */
  async #attach(
    connection: Connection,
    key: string,
    requestId: string | null,
    open: (listener: ChatListener) => Detach | null | Promise<Detach | null>,
  ): Promise<boolean> {
    let finished = false
    let detach: Detach | null = null
    const stop = () => {
      finished = true
      detach?.()
    }
    const listener: ChatListener = (event) => {
      if (finished || !connection.open) return
      if (this.#forward(connection, requestId, event)) {
        if (connection.streams?.get(key) === stop) connection.streams.delete(key)
        stop()
      }
    }
    connection.streams?.set(key, stop)
    detach = await open(listener)
    if (detach === null) {
      if (connection.streams?.get(key) === stop) connection.streams.delete(key)
      return false
    }
    // Finished during replay, or the client left while the gateway was attaching.
    if (finished || !connection.open) detach()
    return true
  }

  /** Sends one job event as a frame; true when it was the last. */
  #forward(connection: Connection, requestId: string | null, event: ChatEvent): boolean {
    switch (event.type) {
      case 'message':
        this.#send(connection, { type: 'delta', request_id: requestId, seq: event.seq, delta: event.data.delta })
        return false
      case 'tool_call':
      case 'tool_result':
        this.#send(connection, { type: event.type, request_id: requestId, seq: event.seq, data: event.data })
        return false
      case 'done':
        this.#send(connection, { type: 'done', request_id: requestId, seq: event.seq, ...event.data })
        return true
      case 'error': {
        const problem = event.data.problem
        this.#send(connection, {
          type: 'error',
          request_id: requestId,
          seq: event.seq,
          code: problem.code ?? codeForStatus(problem.status),
          message: problem.detail ?? problem.title ?? 'The generation failed',
        })
        return true
      }
    }
  }

  async #subscribe(connection: Connection, conversationId: string): Promise<void> {
    const key = subscriptionKey(connection.userId, conversationId)
    const subscriptions = (connection.subscriptions ??= new Set())
    if (!subscriptions.has(key) && subscriptions.size >= this.#maxSubscriptions) {
      this.#error(connection, 'too_many_subscriptions', `At most ${this.#maxSubscriptions} subscriptions per connection`)
      return
    }
    // Another user's conversation looks exactly like a missing one.
    const conversation = await this.#conversations.get(connection.userId, conversationId)
    if (!connection.open) return
    if (!conversation) {
      this.#error(connection, 'not_found', 'Conversation not found')
      return
    }
    subscriptions.add(key)
    let subscribers = this.#subscribers.get(key)
    if (!subscribers) this.#subscribers.set(key, (subscribers = new Set()))
    subscribers.add(connection)
    this.#send(connection, { type: 'subscribed', conversation_id: conversationId })
  }

  #removeSubscriber(key: string, connection: Connection): void {
    const subscribers = this.#subscribers.get(key)
    if (!subscribers) return
    subscribers.delete(connection)
    if (subscribers.size === 0) this.#subscribers.delete(key)
  }

  #messageAppended(event: PersistenceEvents['message.appended']): void {
    const subscribers = this.#subscribers.get(subscriptionKey(event.userId, event.conversationId))
    if (!subscribers) return
    // Serialised once for every subscriber.
    const text = JSON.stringify({ type: 'message', conversation_id: event.conversationId, message: messageJson(event.message) })
    for (const connection of subscribers) this.#sendText(connection, text)
  }

  #conversationDeleted(event: PersistenceEvents['conversation.deleted']): void {
    const key = subscriptionKey(event.userId, event.conversationId)
    const subscribers = this.#subscribers.get(key)
    if (!subscribers) return
    this.#subscribers.delete(key)
    const text = JSON.stringify({ type: 'deleted', conversation_id: event.conversationId })
    for (const connection of subscribers) {
      connection.subscriptions?.delete(key)
      this.#sendText(connection, text)
    }
  }

  // ---- sending ----

  #send(connection: Connection, frame: Record<string, unknown>): void {
    if (connection.open) this.#sendText(connection, JSON.stringify(frame))
  }

  #sendText(connection: Connection, text: string): void {
    if (!connection.open || connection.ws === null) return
    const buffered = bufferedAmount(connection.ws.raw)
    if (buffered !== undefined) {
      connection.backlog = buffered > 0 ? connection.backlog + 1 : 0
      if (buffered > this.#maxBufferedBytes || connection.backlog > this.#sendQueueSize) {
        this.#evict(connection, CloseCode.tryAgainLater, 'slow consumer')
        return
      }
    }
    connection.ws.send(text)
    this.#messagesOut?.inc()
  }

  #error(connection: Connection, code: ErrorCode, message: string, requestId?: string | null): void {
    this.#send(connection, { type: 'error', ...(requestId == null ? {} : { request_id: requestId }), code, message })
  }

  #failed(connection: Connection, error: unknown, requestId?: string): void {
    const problem = toProblem(error)
    if (problem.status >= 500) this.#logger?.error({ err: problem.cause ?? error, ws_client: connection.id }, 'websocket request failed')
    this.#error(connection, codeForStatus(problem.status), problem.detail ?? problem.title, requestId)
  }

  /** Closes with `code`; a peer that does not finish the close handshake within `writeWait` is destroyed. */
  #evict(connection: Connection, code: number, reason: string): void {
    const ws = connection.ws
    this.closed(connection)
    if (!ws) return
    try {
      ws.close(code, reason)
    } catch {
      // Already closed underneath us.
    }
    const raw = ws.raw as Partial<PingableSocket> | undefined
    if (raw && typeof raw.terminate === 'function') {
      const timer = setTimeout(() => raw.terminate?.(), this.#writeWait)
      ;(timer as { unref?: () => void }).unref?.()
    }
  }

  // ---- liveness ----

  #startSweep(): void {
    if (this.#sweepTimer !== undefined) return
    this.#sweepTimer = setInterval(() => this.#sweep(), this.#pingPeriod)
    ;(this.#sweepTimer as { unref?: () => void }).unref?.()
  }

  #stopSweep(): void {
    if (this.#sweepTimer === undefined) return
    clearInterval(this.#sweepTimer)
    this.#sweepTimer = undefined
  }

  /** One pass over every client: close the silent, ping the idle. */
  #sweep(): void {
    const now = this.now()
    const idleAfter = this.#pingPeriod / 2
    const pingText = JSON.stringify({ type: 'ping' })
    for (const connection of this.#connections.values()) {
      const silentFor = now - connection.lastSeen
      if (silentFor >= this.#pongWait) {
        this.#evict(connection, CloseCode.goingAway, 'pong timeout')
      } else if (silentFor >= idleAfter) {
        if (connection.nativePing) {
          try {
            ;(connection.ws?.raw as PingableSocket).ping()
          } catch {
            // The socket is closing; its close event cleans up.
          }
        } else {
          this.#sendText(connection, pingText)
        }
      }
    }
  }
}
