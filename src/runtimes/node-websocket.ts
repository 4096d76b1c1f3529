import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { defineWebSocketHelper, type SendOptions, type WSContext, type WSEvents, type WSReadyState } from 'hono/ws'
import { WebSocket, WebSocketServer } from 'ws'
import { upgradeHeaderLines, writeRefusal } from './node-upgrade-refusal.ts'

export interface NodeWebSocketOptions {
  /** Bytes; a larger frame is refused by `ws` itself with close 1009. Default 65536 (`websocket.max_message_size`). */
  maxPayload?: number
}

/** `upgradeWebSocket(createEvents, options)`'s options on Node. */
export interface NodeUpgradeOptions {
  /** Called with what an event handler throws. Default `console.error`. */
  onError?: (error: unknown) => void
}

type Fetch = (request: Request, env: any) => unknown
type UpgradeEmitter = { on(event: 'upgrade', listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown }

/** What the helper hands the upgrade listener when the app accepts. */
interface Acceptance {
  events: WSEvents<WebSocket>
  /** The request URL without its query, which may carry `?token=`. */
  url: string
  onError: (error: unknown) => void
}

/** The env an upgrade request is fetched with: @hono/node-server's bindings (`getConnInfo` reads `incoming`) and the acceptance slot. */
class UpgradeEnv {
  readonly incoming: IncomingMessage
  readonly outgoing = undefined
  accepted: Acceptance | null = null
  constructor(incoming: IncomingMessage) {
    this.incoming = incoming
  }
}

/** Hono's `WSContext` over a `ws` socket, with the URL parsed only when read. */
class NodeWSContext implements WSContext<WebSocket> {
  readonly raw: NodeSocket
  #url: string | URL
  constructor(raw: NodeSocket, url: string) {
    this.raw = raw
    this.#url = url
  }
  get url(): URL {
    if (typeof this.#url === 'string') this.#url = new URL(this.#url)
    return this.#url
  }
  get protocol(): string | null {
    return this.raw.protocol || null
  }
  get readyState(): WSReadyState {
    return this.raw.readyState as WSReadyState
  }
  /** Binary frames reach `onMessage` as `ArrayBuffer`s. */
  get binaryType(): BinaryType {
    return 'arraybuffer'
  }
  send(source: string | ArrayBuffer | Uint8Array<ArrayBuffer>, options?: SendOptions): void {
    this.raw.send(source, { compress: options?.compress })
  }
  close(code?: number, reason?: string): void {
    this.raw.close(code, reason)
  }
}

const NO_EVENTS: WSEvents<WebSocket> = Object.freeze({})

/**
 * The `ws` socket class the server builds (its `WebSocket` option): the socket carries its events and
 * context, so one set of shared listeners serves every connection and nothing else is kept per socket.
 */
class NodeSocket extends WebSocket {
  events: WSEvents<WebSocket> = NO_EVENTS
  context: NodeWSContext | null = null
  onHandlerError: (error: unknown) => void = console.error
}

class WebSocketErrorEvent extends Event {
  readonly error: unknown
  constructor(error: unknown) {
    super('error')
    this.error = error
  }
}

function dispatch(socket: NodeSocket, handler: 'onOpen' | 'onMessage' | 'onClose' | 'onError', event: Event): void {
  try {
    ;(socket.events[handler] as ((event: Event, ws: WSContext<WebSocket>) => void) | undefined)?.(event, socket.context!)
  } catch (error) {
    socket.onHandlerError(error)
  }
}

// Listeners are called with the socket as `this`, which `ws` types as its base class.
function onSocketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  const message = isBinary ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data.toString()
  dispatch(this as NodeSocket, 'onMessage', new MessageEvent('message', { data: message }))
}

function onSocketClose(this: WebSocket, code: number, reason: Buffer): void {
  dispatch(this as NodeSocket, 'onClose', new CloseEvent('close', { code, reason: reason.toString() }))
}

function onSocketError(this: WebSocket, error: Error): void {
  dispatch(this as NodeSocket, 'onError', new WebSocketErrorEvent(error))
}

function ignoreError(): void {}

/** Refuses a request target or Host that would not make the URL the app sees (as @hono/node-server does). */
function requestUrl(request: IncomingMessage): string | null {
  const target = request.url ?? '/'
  const backslash = target.indexOf('\\')
  if (backslash !== -1 && (target.indexOf('?') === -1 || backslash < target.indexOf('?'))) return null
  if (/^https?:\/\//i.test(target)) return URL.canParse(target) ? target : null
  const host = request.headers.host ?? 'localhost'
  if (target[0] !== '/' || /[/?#@\\\s]/.test(host)) return null
  const scheme = (request.socket as TLSSocket).encrypted ? 'https' : 'http'
  const url = `${scheme}://${host}${target}`
  return URL.canParse(url) ? url : null
}

function upgradeRequest(request: IncomingMessage, url: string): Request {
  const headers = new Headers()
  for (const name in request.headers) {
    const value = request.headers[name]
    if (value) headers.append(name, Array.isArray(value) ? value[0] : value)
  }
  return new Request(url, { headers })
}

/**
 * Hono's `upgradeWebSocket` for Node on the `ws` package, for the upgrade listener `createNodeWebSocket`
 * installs. It replaces @hono/node-server's own helper, whose per-connection closures kept a context
 * literal, a `URL`, the buffering listener it had added and removed, and the request Context it was
 * called with; here a connection costs the `ws` socket, one small `WSContext` and the app's events.
 */
export const upgradeWebSocket = defineWebSocketHelper<WebSocket, NodeUpgradeOptions>((c, events, options) => {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return
  if (!(c.env instanceof UpgradeEnv)) return new Response(null, { status: 500 })
  const url = c.req.url
  const query = url.indexOf('?')
  c.env.accepted = { events, url: query === -1 ? url : url.slice(0, query), onError: options?.onError ?? console.error }
  return new Response(null)
})

/**
 * WebSocket support on Node: `upgradeWebSocket` for the app's routes, and the `ws` server it upgrades
 * into. `startServer` calls `websocket.attach(server, fetch)`: every upgrade request then goes through
 * the app, accepted ones become sockets and refused ones get the app's whole problem response.
 * `close()` stops accepting upgrades (open connections are the hub's to close).
 */
export function createNodeWebSocket(options: NodeWebSocketOptions = {}) {
  const server = new WebSocketServer({
    noServer: true,
    WebSocket: NodeSocket,
    maxPayload: options.maxPayload ?? 65_536,
    // The hub tracks clients; ws's own Set would hold a second reference to every socket.
    clientTracking: false,
    perMessageDeflate: false,
  })
  // The app's response headers (e.g. x-request-id) join the 101; handleUpgrade writes it synchronously.
  let handshakeHeaders: Headers | undefined
  server.on('headers', (lines: string[]) => upgradeHeaderLines(handshakeHeaders, lines))

  function open(socket: NodeSocket, accepted: Acceptance): void {
    socket.events = accepted.events
    socket.onHandlerError = accepted.onError
    socket.context = new NodeWSContext(socket, accepted.url)
    socket.on('message', onSocketMessage)
    socket.on('close', onSocketClose)
    socket.on('error', onSocketError)
    dispatch(socket, 'onOpen', new Event('open'))
  }

  async function upgrade(fetch: Fetch, request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = requestUrl(request)
    if (url === null) return writeRefusal(socket, undefined, 400)
    const env = new UpgradeEnv(request)
    let response: unknown
    try {
      response = await fetch(upgradeRequest(request, url), env)
    } catch {
      return writeRefusal(socket, undefined, 500)
    }
    const accepted = env.accepted
    if (accepted === null || !(response instanceof Response) || response.status !== 200) {
      return writeRefusal(socket, response instanceof Response ? response : undefined)
    }
    if (socket.destroyed) return
    socket.off('error', ignoreError)
    handshakeHeaders = response.headers
    try {
      server.handleUpgrade(request, socket, head, (ws) => open(ws as NodeSocket, accepted))
    } finally {
      handshakeHeaders = undefined
    }
  }

  let closed = false
  return {
    upgradeWebSocket,
    websocket: {
      server,
      /** Serves WebSocket upgrades on `httpServer` through `fetch` (the app's). */
      attach(httpServer: UpgradeEmitter, fetch: Fetch): void {
        httpServer.on('upgrade', (request, socket, head) => {
          // startServer lets only WebSocket upgrades through (shouldUpgradeCallback); a server built
          // elsewhere may not, and an upgrade left unanswered would hold its socket forever.
          if (request.headers.upgrade?.toLowerCase() !== 'websocket') return void writeRefusal(socket, undefined, 400)
          // Until ws takes the socket over, an error (a reset mid-auth) must not crash the process.
          socket.on('error', ignoreError)
          upgrade(fetch, request, socket, head).catch(() => socket.destroy())
        })
      },
    },
    close(): Promise<void> {
      if (closed) return Promise.resolve()
      closed = true
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

export type NodeWebSocket = ReturnType<typeof createNodeWebSocket>
