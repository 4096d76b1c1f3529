import { getConnInfo, serveStatic, upgradeWebSocket, websocket } from 'hono/bun'
import { bindOrExit, prepareProcess } from './process.ts'
import { gracefulShutdown, installProcessHandlers, settledWithin } from './shutdown.ts'

// The slice of Bun's API used here (bun-types is not installed; this file only runs under Bun).
declare const Bun: {
  serve(options: {
    hostname: string
    port: number
    idleTimeout: number
    websocket: typeof websocket & { maxPayloadLength: number }
    fetch: (request: Request, server: object) => Response | Promise<Response>
  }): { hostname: string; port: number; stop(closeActiveConnections?: boolean): Promise<void> }
}

const { settings, logger, deps, app, onClose, markDraining } = await prepareProcess({
  runtime: 'bun',
  peerAddress: (c) => getConnInfo(c).remote.address,
  serveStatic: (root) => serveStatic({ root }),
  upgradeWebSocket: () => upgradeWebSocket,
})

const server = bindOrExit(settings, logger, () =>
  Bun.serve({
    hostname: settings.host,
    port: settings.port,
    // Bun's idle timer (default 10 s) also runs mid-response, so a quiet SSE stream would be cut
    // (oven-sh/bun#27479). It takes server.idle_timeout like Node's keep-alive (Bun allows at most
    // 255 s); streams send heartbeats (chat.heartbeat_interval, 15 s) well inside it.
    idleTimeout: Math.min(255, Math.ceil(settings.idle_timeout / 1000)),
    // hono/bun's handlers route socket events to the hub. Bun closes an oversized frame with 1009
    // itself (its default limit is 16 MB), like `ws`'s maxPayload on Node.
    websocket: { ...websocket, maxPayloadLength: settings.websocket.max_message_size },
    // The server is the Hono env, so `getConnInfo` can ask it for the peer address.
    fetch: (request, bunServer) => app.fetch(request, bunServer),
  }),
)
// `stop()` waits for in-flight requests (and open WebSockets, closed 1001 when draining starts);
// past the deadline `stop(true)` closes what is left.
const drain = async (deadlineMs: number) => {
  const drained = await settledWithin(server.stop(), deadlineMs)
  if (!drained) await server.stop(true)
  return drained
}
const shutdown = gracefulShutdown({ logger, markDraining, servers: [{ drain }], timeoutMs: settings.shutdown_timeout, onClose })
installProcessHandlers(logger, shutdown)
deps.lifecycle.markReady()
logger.info({ address: server.hostname, port: server.port, runtime: 'bun' }, 'listening')
