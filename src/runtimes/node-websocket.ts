import { upgradeWebSocket } from '@hono/node-server'
import { WebSocketServer } from 'ws'

export interface NodeWebSocketOptions {
  /** Bytes; a larger frame is refused by `ws` itself with close 1009. Default 65536 (`websocket.max_message_size`). */
  maxPayload?: number
}

/**
 * WebSocket support for `@hono/node-server` 2.x: its built-in `upgradeWebSocket` plus the `ws`
 * server it upgrades into. Pass `websocket` to `serve()`; `close()` stops accepting upgrades
 * (open connections are the hub's to close).
 */
export function createNodeWebSocket(options: NodeWebSocketOptions = {}) {
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload ?? 65_536,
    // The hub tracks clients; ws's own Set would hold a second reference to every socket.
    clientTracking: false,
    perMessageDeflate: false,
  })
  let closed = false
  return {
    upgradeWebSocket,
    websocket: { server },
    close(): Promise<void> {
      if (closed) return Promise.resolve()
      closed = true
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
