import type { WSContext, WSMessageReceive } from 'hono/ws'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { toProblem } from '../../errors/problem.ts'
import type { Clock, TimerHandle } from '../../kernel/clock.ts'
import {
  bufferedAmount,
  byteLength,
  CloseCode,
  Connection,
  CONNECTION,
  onNativePong,
  pingableSocket,
  type ConnectionHost,
  type PingableSocket,
} from './connection.ts'
import { codeForStatus, type ErrorCode } from './protocol.ts'

export interface ConnectionsOptions {
  clock: Clock
  /** Gets `ws_connections` and `ws_messages_total{direction}`. */
  registry?: Registry
  /** Failures of 5xx are logged here, never frame contents. */
  logger?: Logger
  /** Bytes; a larger frame closes the connection with 1009. */
  maxMessageSize: number
  /** Milliseconds between liveness sweeps; idle clients are pinged. */
  pingPeriod: number
  /** Milliseconds without a pong (or any frame) after which a client is closed. */
  pongWait: number
  /** Milliseconds a closing slow or dead client gets before its socket is destroyed. */
  writeWait: number
  /** Frames sent while the socket's buffer never emptied; more closes with 1013. */
  sendQueueSize: number
  /** Bytes buffered for a client; more closes with 1013. */
  maxBufferedBytes: number
  /** Token bucket refill per second for client frames. */
  messagesPerSecond: number
  /** Token bucket capacity. */
  burst: number
}

/** What the rest of the hub does with a connection's traffic. */
export interface ConnectionHandlers {
  /** A text frame that passed the size and rate checks. */
  frame(connection: Connection, text: string): void
  /** The connection is gone (closed, failed or evicted): release what it held. */
  closed(connection: Connection): void
}

/** How the hub's parts talk to a client. */
export interface FrameSender {
  send(connection: Connection, frame: Record<string, unknown>): void
  sendText(connection: Connection, text: string): void
  error(connection: Connection, code: ErrorCode, message: string, requestId?: string | null): void
  /** An error frame for a thrown problem; 5xx are logged, their details never sent. */
  failed(connection: Connection, error: unknown, requestId?: string): void
}

/**
 * The open connections and their liveness: our own client ids, a token bucket and a size limit per
 * client, bounded send buffers (slow consumers are closed with 1013), one shared sweep that pings
 * idle clients and closes silent ones (not a timer per client), and `closeAll()` for shutdown.
 * Runtime-neutral: it sees only `WSContext` and, where present, `ws`'s `raw.ping()`/`'pong'` and
 * `raw.bufferedAmount`.
 */
export class Connections implements ConnectionHost, FrameSender {
  readonly #options: ConnectionsOptions
  readonly #clock: Clock
  readonly #handlers: ConnectionHandlers
  readonly #refillPerMs: number
  readonly #open = new Map<number, Connection>()
  readonly #gauge: Gauge | undefined
  readonly #messagesIn: { inc(): void } | undefined
  readonly #messagesOut: { inc(n?: number): void } | undefined
  #nextId = 1
  #sweepTimer: TimerHandle | undefined
  #accepting = true

  constructor(options: ConnectionsOptions, handlers: ConnectionHandlers) {
    this.#options = options
    this.#clock = options.clock
    this.#handlers = handlers
    this.#refillPerMs = options.messagesPerSecond / 1000
    const registry = options.registry
    if (registry) {
      this.#gauge =
        (registry.getSingleMetric('ws_connections') as Gauge | undefined) ??
        new Gauge({ name: 'ws_connections', help: 'Open WebSocket connections', registers: [registry] })
      const messages =
        (registry.getSingleMetric('ws_messages_total') as Counter<'direction'> | undefined) ??
        new Counter({ name: 'ws_messages_total', help: 'WebSocket frames received (in) and sent (out)', labelNames: ['direction'], registers: [registry] })
      this.#messagesIn = messages.labels('in')
      this.#messagesOut = messages.labels('out')
    }
  }

  get size(): number {
    return this.#open.size
  }

  now(): number {
    return this.#clock.now()
  }

  /** A connection for an authenticated user; it registers itself when the socket opens. */
  create(userId: string): Connection {
    return new Connection(this, this.#nextId++, userId, this.#options.burst, this.#clock.now())
  }

  /** Closes every client with 1001 and stops the sweep. Returns how many were closed. */
  closeAll(reason = 'server shutting down'): number {
    const connections = [...this.#open.values()]
    for (const connection of connections) this.evict(connection, CloseCode.goingAway, reason)
    this.#stopSweep()
    return connections.length
  }

  /** From now on, sockets that open are closed at once with 1001. */
  refuseNew(): void {
    this.#accepting = false
  }

  // ---- ConnectionHost ----

  opened(connection: Connection, ws: WSContext): void {
    connection.ws = ws
    if (!this.#accepting) {
      ws.close(CloseCode.goingAway, 'server shutting down')
      return
    }
    connection.open = true
    this.#open.set(connection.id, connection)
    this.#gauge?.inc()
    const raw = pingableSocket(ws)
    if (raw) {
      connection.nativePing = true
      raw[CONNECTION] = connection
      raw.on('pong', onNativePong)
    }
    this.#startSweep()
  }

  received(connection: Connection, data: WSMessageReceive): void {
    if (!connection.open) return
    this.#messagesIn?.inc()
    const now = this.#clock.now()
    connection.lastSeen = now
    const { maxMessageSize, burst } = this.#options
    const size = typeof data === 'string' ? byteLength(data, maxMessageSize) : 'size' in data ? data.size : data.byteLength
    if (size > maxMessageSize) {
      this.evict(connection, CloseCode.messageTooBig, `message exceeds ${maxMessageSize} bytes`)
      return
    }
    connection.tokens = Math.min(burst, connection.tokens + (now - connection.refilledAt) * this.#refillPerMs)
    connection.refilledAt = now
    if (connection.tokens < 1) {
      this.error(connection, 'rate_limited', 'Too many messages; slow down')
      return
    }
    connection.tokens -= 1
    if (typeof data !== 'string') {
      this.error(connection, 'unsupported_data', 'Binary frames are not supported; send JSON text')
      return
    }
    this.#handlers.frame(connection, data)
  }

  closed(connection: Connection): void {
    if (!connection.open) return
    connection.open = false
    this.#open.delete(connection.id)
    this.#gauge?.dec()
    this.#handlers.closed(connection)
    const raw = connection.ws?.raw as Partial<PingableSocket> | undefined
    if (raw && connection.nativePing) raw[CONNECTION] = undefined
    if (this.#open.size === 0) this.#stopSweep()
  }

  // ---- FrameSender ----

  send(connection: Connection, frame: Record<string, unknown>): void {
    if (connection.open) this.sendText(connection, JSON.stringify(frame))
  }

  sendText(connection: Connection, text: string): void {
    if (!connection.open || connection.ws === null) return
    const buffered = bufferedAmount(connection.ws.raw)
    if (buffered !== undefined) {
      connection.backlog = buffered > 0 ? connection.backlog + 1 : 0
      if (buffered > this.#options.maxBufferedBytes || connection.backlog > this.#options.sendQueueSize) {
        this.evict(connection, CloseCode.tryAgainLater, 'slow consumer')
        return
      }
    }
    connection.ws.send(text)
    this.#messagesOut?.inc()
  }

  error(connection: Connection, code: ErrorCode, message: string, requestId?: string | null): void {
    this.send(connection, { type: 'error', ...(requestId == null ? {} : { request_id: requestId }), code, message })
  }

  failed(connection: Connection, error: unknown, requestId?: string): void {
    const problem = toProblem(error)
    if (problem.status >= 500) this.#options.logger?.error({ err: problem.cause ?? error, ws_client: connection.id }, 'websocket request failed')
    this.error(connection, codeForStatus(problem.status), problem.detail ?? problem.title, requestId)
  }

  /** Closes with `code`; a peer that does not finish the close handshake within `writeWait` is destroyed. */
  evict(connection: Connection, code: number, reason: string): void {
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
      this.#clock.setTimeout(() => raw.terminate?.(), this.#options.writeWait, { unref: true })
    }
  }

  // ---- liveness ----

  #startSweep(): void {
    if (this.#sweepTimer !== undefined) return
    this.#sweepTimer = this.#clock.setInterval(() => this.#sweep(), this.#options.pingPeriod, { unref: true })
  }

  #stopSweep(): void {
    if (this.#sweepTimer === undefined) return
    this.#clock.clearInterval(this.#sweepTimer)
    this.#sweepTimer = undefined
  }

  /** One pass over every client: close the silent, ping the idle. */
  #sweep(): void {
    const now = this.#clock.now()
    const { pingPeriod, pongWait } = this.#options
    const idleAfter = pingPeriod / 2
    const pingText = JSON.stringify({ type: 'ping' })
    for (const connection of this.#open.values()) {
      const silentFor = now - connection.lastSeen
      if (silentFor >= pongWait) {
        this.evict(connection, CloseCode.goingAway, 'pong timeout')
      } else if (silentFor >= idleAfter) {
        if (connection.nativePing) {
          try {
            ;(connection.ws?.raw as PingableSocket).ping()
          } catch {
            // The socket is closing; its close event cleans up.
          }
        } else {
          this.sendText(connection, pingText)
        }
      }
    }
  }
}
