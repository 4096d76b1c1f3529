import type { WSContext, WSEvents, WSMessageReceive } from 'hono/ws'
import type { Detach } from './gateway.ts'

/** WebSocket close codes (RFC 6455 §7.4.1). */
export const CloseCode = {
  goingAway: 1001,
  messageTooBig: 1009,
  tryAgainLater: 1013,
} as const

/** Where a connection reports its events: the hub's connection registry (`Connections`). */
export interface ConnectionHost {
  /** Milliseconds since the epoch, from the hub's clock. */
  now(): number
  opened(connection: Connection, ws: WSContext): void
  received(connection: Connection, data: WSMessageReceive): void
  closed(connection: Connection): void
}

/** Per-connection state; registered on the raw socket of runtimes with a native ping API. */
export const CONNECTION = Symbol('ws.connection')

/** A socket with `ws`'s ping API (Node); Bun's raw socket has `ping()` but its pongs are not observable. */
export interface PingableSocket {
  ping(): void
  on(event: 'pong', listener: (this: PingableSocket) => void): unknown
  terminate?(): void
  [CONNECTION]?: Connection
}

/**
 * One client. It is itself the `WSEvents` handed to `upgradeWebSocket`: every adapter calls the
 * handlers as methods, so a connection costs one object and no closures. The `WSContext` argument is
 * used only for sending — on Bun a new one is built per event, so nothing is keyed by it. The parts
 * of the hub keep their per-client state here too, so an idle client costs no map entries.
 */
export class Connection implements WSEvents {
  readonly id: number
  readonly userId: string
  readonly host: ConnectionHost
  ws: WSContext | null = null
  open = false
  /** Token bucket for the client's frames (`Connections.received`). */
  tokens: number
  refilledAt: number
  /** The last frame or pong from the client, for the liveness sweep. */
  lastSeen: number
  /** Frames sent since the socket's buffer was last seen empty. */
  backlog = 0
  /** Native ping (`ws`) or app-level `{type: "ping"}` frames. */
  nativePing = false
  /** Subscription keys (`Subscriptions`); created on first subscribe. */
  subscriptions: Set<string> | null = null
  /** Attached chat streams by key (`ChatStreams`); created on first chat/resume. */
  streams: Map<string, Detach> | null = null

  constructor(host: ConnectionHost, id: number, userId: string, tokens: number, now: number) {
    this.host = host
    this.id = id
    this.userId = userId
    this.tokens = tokens
    this.refilledAt = now
    this.lastSeen = now
  }

  onOpen(_event: Event, ws: WSContext): void {
    this.host.opened(this, ws)
  }

  onMessage(event: MessageEvent<WSMessageReceive>, ws: WSContext): void {
    // Cloudflare has no `onOpen`: the first message opens the connection.
    if (!this.open && this.ws === null) this.host.opened(this, ws)
    this.host.received(this, event.data)
  }

  onClose(): void {
    this.host.closed(this)
  }

  onError(): void {
    this.host.closed(this)
  }
}

/** The `ws` socket under `ws`, when it has a ping API whose pongs can be observed. */
export function pingableSocket(ws: WSContext): PingableSocket | undefined {
  const raw = ws.raw as Partial<PingableSocket> | undefined
  return raw && typeof raw.ping === 'function' && typeof raw.on === 'function' ? (raw as PingableSocket) : undefined
}

/** Shared by every native socket (no closure per client): a pong counts as the client being alive. */
export function onNativePong(this: PingableSocket): void {
  const connection = this[CONNECTION]
  if (connection) connection.lastSeen = connection.host.now()
}

const textEncoder = new TextEncoder()

/** UTF-8 length without encoding when the answer is obvious. */
export function byteLength(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length
  return textEncoder.encode(text).byteLength
}

/** Bytes the runtime's socket still holds for the client, where it says (`ws`, Bun). */
export function bufferedAmount(raw: unknown): number | undefined {
  if (raw === null || typeof raw !== 'object') return undefined
  const socket = raw as { bufferedAmount?: unknown; getBufferedAmount?: () => number }
  if (typeof socket.bufferedAmount === 'number') return socket.bufferedAmount
  if (typeof socket.getBufferedAmount === 'function') return socket.getBufferedAmount()
  return undefined
}
