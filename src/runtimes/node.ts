import { getConnInfo } from '@hono/node-server/conninfo'
import { serveStatic } from '@hono/node-server/serve-static'
import { createApp } from '../app.ts'
import { buildDeps, systemClock } from '../deps.ts'
import { announce } from '../startup.ts'
import { loadProcessConfig } from './node-config.ts'
import { metricsOnlyApp, processLogger, startPlainServer, startServer, type StartedServer } from './node-server.ts'
import { startTracing } from './otel.ts'
import { nodeWorkspaceFs } from './workspace-fs.ts'
import { createNodeWebSocket } from './node-websocket.ts'
import { gracefulShutdown, installProcessHandlers, type Closer } from './shutdown.ts'
import { openStores } from './stores.ts'

const config = await loadProcessConfig()
const { server: settings } = config
const logger = processLogger(settings.log_level)
/** Closed in order after the servers drain; later code pushes its own. */
const onClose: Closer[] = []
// MongoDB when MONGODB_URI is set, else memory.
const stores = await openStores(config, { logger, clock: systemClock })
const websocket = settings.websocket.enabled ? createNodeWebSocket({ maxPayload: settings.websocket.max_message_size }) : undefined
if (websocket) onClose.push({ name: 'websocket', close: () => websocket.close() })
onClose.push({ name: 'stores', close: () => stores.close() })

const deps = buildDeps({
  config,
  logger,
  stores,
  upgradeWebSocket: websocket?.upgradeWebSocket,
  workspaceFs: nodeWorkspaceFs(),
  peerAddress: (c) => getConnInfo(c).remote.address,
  serveStatic: serveStatic({ root: settings.static_dir }),
})
// Started before the app is built; the app's tracer is the API's proxy, so it picks the SDK up.
const tracing = await startTracing({ logger, serviceName: 'assistant-server', version: deps.version, env: process.env })
if (tracing) onClose.push({ name: 'tracing', close: () => tracing.shutdown() })
// Generations still running after the drain are stopped (their partial replies are kept).
onClose.unshift({ name: 'chat jobs', close: async () => deps.chat.jobs.close() })
await announce(deps)
const app = createApp(deps)

const servers: StartedServer[] = []
// Draining: /ready turns 503 and WebSocket clients are told to reconnect elsewhere (1001).
const markDraining = () => {
  deps.lifecycle.markDraining()
  deps.hub.closeAll()
}
const shutdown = gracefulShutdown({ logger, markDraining, servers, timeoutMs: settings.shutdown_timeout, onClose })
installProcessHandlers(logger, shutdown)

const main = await startServer(app.fetch, settings, { websocket: websocket?.websocket })
servers.push(main)
if (settings.metrics.enabled && settings.metrics.port !== 0) {
  const side = await startPlainServer(metricsOnlyApp(deps.metrics, settings.metrics.path).fetch, settings.host, settings.metrics.port)
  servers.push(side)
  logger.info({ address: side.address, port: side.port, path: settings.metrics.path }, 'metrics listening')
}
deps.lifecycle.markReady()
logger.info({ address: main.address, port: main.port, protocol: main.protocol }, 'listening')
logger.flush()
