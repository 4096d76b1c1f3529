import { getConnInfo, serveStatic, upgradeWebSocket, websocket } from 'hono/bun'
import pino from 'pino'
import { createApp } from '../app.ts'
import { buildDeps, systemClock } from '../deps.ts'
import { announce } from '../startup.ts'
import { exitOnUnsupported } from './env-config.ts'
import { loadProcessConfig } from './node-config.ts'
import { startTracing } from './otel.ts'
import { gracefulShutdown, installProcessHandlers, type Closer } from './shutdown.ts'
import { openStores } from './stores.ts'
import { nodeWorkspaceFs } from './workspace-fs.ts'

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

// Bun runs the Node config loader unchanged: same env naming rule, `--config`, CONFIG_FILE, config/default.yaml.
const config = await loadProcessConfig()
exitOnUnsupported(config, 'bun')
const { server: settings } = config
const logger = pino({ level: settings.log_level }, pino.destination({ dest: 1, sync: false }))
const onClose: Closer[] = []
// MongoDB when MONGODB_URI is set, else memory; closed after the server drains.
const stores = await openStores(config, { logger, clock: systemClock })
onClose.push({ name: 'stores', close: () => stores.close() })
const deps = buildDeps({
  config,
  logger,
  stores,
  peerAddress: (c) => getConnInfo(c).remote.address,
  serveStatic: serveStatic({ root: settings.static_dir }),
  upgradeWebSocket: settings.websocket.enabled ? upgradeWebSocket : undefined,
  workspaceFs: nodeWorkspaceFs(),
})
const tracing = await startTracing({ logger, serviceName: 'assistant-server', version: deps.version, env: process.env })
if (tracing) onClose.push({ name: 'tracing', close: () => tracing.shutdown() })
await announce(deps)
const app = createApp(deps)

const server = Bun.serve({
  hostname: settings.host,
  port: settings.port,
  // Bun's idle timer (default 10 s) also runs mid-response, so a quiet SSE stream would be cut
  // (oven-sh/bun#27479). It takes server.idle_timeout like Node's keep-alive (Bun allows at most
  // 255 s); streams send heartbeats (chat.heartbeat_interval, 15 s) well inside it.
  idleTimeout: Math.min(255, Math.ceil(settings.idle_timeout / 1000)),
  // Bun dispatches socket events here; hono/bun's handlers route them to the hub's events. Bun closes
  // an oversized frame with 1009 itself (its default limit is 16 MB), like `ws`'s maxPayload on Node.
  websocket: { ...websocket, maxPayloadLength: settings.websocket.max_message_size },
  // The server is the Hono env, so `getConnInfo` can ask it for the peer address.
  fetch: (request, bunServer) => app.fetch(request, bunServer),
})
// `stop()` waits for in-flight requests; past the deadline `stop(true)` closes what is left.
const drain = async (deadlineMs: number) => {
  // `stop()` also waits for open WebSockets: say goodbye (1001) first.
  deps.hub.closeAll()
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>((wake) => (timer = setTimeout(() => wake(false), deadlineMs)))
  const drained = await Promise.race([server.stop().then(() => true as const), late])
  clearTimeout(timer)
  if (!drained) await server.stop(true)
  return drained
}
const shutdown = gracefulShutdown({ logger, markDraining: () => deps.lifecycle.markDraining(), servers: [{ drain }], timeoutMs: settings.shutdown_timeout, onClose })
installProcessHandlers(logger, shutdown)
deps.lifecycle.markReady()
logger.info({ address: server.hostname, port: server.port, runtime: 'bun' }, 'listening')
