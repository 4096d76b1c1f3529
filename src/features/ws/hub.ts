import type { WSEvents } from 'hono/ws'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Config } from '../../config/index.ts'
import type { Principal } from '../../env.ts'
import type { EventBus, PersistenceEvents, SharedEvents } from '../../events/index.ts'
import { systemClock, type Clock } from '../../kernel/clock.ts'
import type { ConversationStore } from '../../storage/ports.ts'
import { ChatStreams } from './chat-streams.ts'
import type { Connection } from './connection.ts'
import { Connections } from './connections.ts'
import type { ChatGateway } from './gateway.ts'
import { parseClientFrame, type ClientFrame } from './protocol.ts'
import { Subscriptions } from './subscriptions.ts'

export interface HubOptions {
  gateway: ChatGateway
  /** Ownership checks for `subscribe`. */
  conversations: Pick<ConversationStore, 'get'>
  /** Where persisted messages are announced (see `withMessageEvents`); without it `subscribe` delivers nothing. */
  events?: EventBus<PersistenceEvents>
  /** Events saved through other instances (the Redis relay); absent in one process. */
  shared?: SharedEvents
  /** Gets `ws_connections` and `ws_messages_total{direction}`. Default: no metrics. */
  registry?: Registry
  /** Pipeline failures (5xx) are logged here, never frame contents. Default: not logged. */
  logger?: Logger
  /** The liveness sweep, the close deadline and the token buckets run on it. Default: the system clock. */
  clock?: Clock
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

/**
 * The WebSocket hub, in three parts: the connections and their liveness (`connections.ts`),
 * per-conversation subscriptions fed by the persistence events (`subscriptions.ts`), and chat over
 * the socket through the chat gateway (`chat-streams.ts`). The hub parses each frame and hands it to
 * the part it is for.
 */
export class Hub {
  readonly #connections: Connections
  readonly #subscriptions: Subscriptions
  readonly #streams: ChatStreams

  constructor(options: HubOptions) {
    this.#connections = new Connections(
      {
        clock: options.clock ?? systemClock,
        registry: options.registry,
        logger: options.logger,
        maxMessageSize: options.maxMessageSize ?? 65_536,
        pingPeriod: options.pingPeriod ?? 54_000,
        pongWait: options.pongWait ?? 60_000,
        writeWait: options.writeWait ?? 10_000,
        sendQueueSize: options.sendQueueSize ?? 256,
        maxBufferedBytes: options.maxBufferedBytes ?? 1_048_576,
        messagesPerSecond: options.messagesPerSecond ?? 10,
        burst: options.burst ?? 20,
      },
      { frame: (connection, text) => this.#frame(connection, text), closed: (connection) => this.#closed(connection) },
    )
    this.#subscriptions = new Subscriptions({
      conversations: options.conversations,
      events: options.events,
      shared: options.shared,
      maxSubscriptions: options.maxSubscriptions ?? 100,
      sender: this.#connections,
    })
    this.#streams = new ChatStreams(options.gateway, this.#connections)
  }

  /** Open connections. */
  get size(): number {
    return this.#connections.size
  }

  /** Connections subscribed to the user's conversation; for tests and diagnostics. */
  subscriberCount(userId: string, conversationId: string): number {
    return this.#subscriptions.count(userId, conversationId)
  }

  /** The `WSEvents` for one authenticated upgrade. */
  connect(user: Principal): WSEvents {
    return this.#connections.create(user.id)
  }

  /** Closes every client with 1001 (graceful shutdown) and stops the sweep. Returns how many were closed. */
  closeAll(reason = 'server shutting down'): number {
    return this.#connections.closeAll(reason)
  }

  /** `closeAll()` and detach from the event bus; the hub accepts no connections afterwards. */
  close(): void {
    this.#connections.refuseNew()
    this.closeAll()
    this.#subscriptions.close()
  }

  #frame(connection: Connection, text: string): void {
    const parsed = parseClientFrame(text)
    if (!parsed.ok) {
      this.#connections.error(connection, parsed.code, parsed.message, parsed.requestId)
      return
    }
    this.#handle(connection, parsed.frame).catch((error: unknown) => this.#connections.failed(connection, error))
  }

  async #handle(connection: Connection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ping':
        this.#connections.send(connection, { type: 'pong' })
        return
      case 'pong':
        return
      case 'chat':
        return this.#streams.chat(connection, frame.request_id, frame.message, frame.conversation_id)
      case 'stop':
        return this.#streams.stop(connection, frame.conversation_id)
      case 'resume':
        return this.#streams.resume(connection, frame.conversation_id, frame.after, frame.request_id)
      case 'subscribe':
        return this.#subscriptions.subscribe(connection, frame.conversation_id)
      case 'unsubscribe':
        return this.#subscriptions.unsubscribe(connection, frame.conversation_id)
    }
  }

  #closed(connection: Connection): void {
    this.#subscriptions.drop(connection)
    this.#streams.detachAll(connection)
  }
}
