import { upgradeWebSocket as nodeServerUpgradeWebSocket } from '@hono/node-server'
import type { Context } from 'hono'
import { defineWebSocketHelper } from 'hono/ws'
import { WebSocketServer } from 'ws'

export interface NodeWebSocketOptions {
  /** Bytes; a larger frame is refused by `ws` itself with close 1009. Default 65536 (`websocket.max_message_size`). */
  maxPayload?: number
}

type NodeEnv = Record<PropertyKey, unknown> & { incoming?: unknown }

const websocketUpgradeOnly = (name: string) => (name.toLowerCase() === 'upgrade' ? 'websocket' : undefined)

/**
 * `@hono/node-server`'s own `upgradeWebSocket`, handed a stand-in for the request's Context.
 *
 * Its per-connection closure keeps the Context it was called with for as long as the socket lives,
 * and with it the Hono and Fetch request, their headers, every `c.var` a middleware set and the
 * Node `IncomingMessage` in `c.env` (≈6 KB per idle connection, more than the `ws` socket itself).
 * The adapter reads only `c.req.header('upgrade')`, `c.req.url` and `c.env` (bindings it keys by
 * private symbols), so it gets exactly those: a copy of `env`'s bindings whose `incoming` is dropped once the
 * adapter has registered its waiter, and the URL without its query, which may carry `?token=`.
 */
const upgradeWebSocket = defineWebSocketHelper((c: Context, events, options) => {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return
  const env = c.env as NodeEnv
  const handoff: NodeEnv = { incoming: env.incoming }
  for (const key of Object.getOwnPropertySymbols(env)) handoff[key] = env[key]
  const url = c.req.url
  const query = url.indexOf('?')
  const standIn = { env: handoff, req: { url: query === -1 ? url : url.slice(0, query), header: websocketUpgradeOnly } }
  const response = nodeServerUpgradeWebSocket(standIn as unknown as Context, events, options)
  // Synchronously, the adapter has read `incoming` and marked the env it was given with its
  // connection symbol; the server's 'upgrade' listener looks for that mark on the original env.
  for (const key of Object.getOwnPropertySymbols(handoff)) env[key] = handoff[key]
  handoff.incoming = undefined
  return response
})

/**
 * WebSocket support for `@hono/node-server` 2.x: its built-in `upgradeWebSocket` (see above for why
 * it is wrapped) plus the `ws` server it upgrades into. Pass `websocket` to `serve()`; `close()`
 * stops accepting upgrades (open connections are the hub's to close).
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
