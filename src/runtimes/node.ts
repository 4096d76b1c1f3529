import type { HttpBindings } from '@hono/node-server'
import { serveStatic } from '@hono/node-server/serve-static'
import { metricsOnlyApp, startPlainServer, startServer, type StartedServer } from './node-server.ts'
import { createNodeWebSocket } from './node-websocket.ts'
import { exitOnListenError, prepareProcess } from './process.ts'
import { gracefulShutdown, installProcessHandlers } from './shutdown.ts'

let websocket: ReturnType<typeof createNodeWebSocket> | undefined
const { settings, logger, deps, app, onClose, markDraining } = await prepareProcess({
  runtime: 'node',
  // The socket's address alone: `getConnInfo` also reads the port and family and builds two objects, per request.
  peerAddress: (c) => (c.env as HttpBindings | undefined)?.incoming?.socket?.remoteAddress,
  serveStatic: (root) => serveStatic({ root }),
  // Our upgrade helper on a `ws` server we own (its options, e.g. maxPayload); see node-websocket.ts.
  upgradeWebSocket: (config) => {
    websocket = createNodeWebSocket({ maxPayload: config.server.websocket.max_message_size })
    return websocket.upgradeWebSocket
  },
})
if (websocket) onClose.unshift({ name: 'websocket', close: () => websocket!.close() })

const servers: StartedServer[] = []
const shutdown = gracefulShutdown({ logger, markDraining, servers, timeoutMs: settings.shutdown_timeout, onClose })
installProcessHandlers(logger, shutdown)

const main = await startServer(app.fetch, settings, { websocket: websocket?.websocket }).catch((error) =>
  exitOnListenError(error, settings.host, settings.port, logger),
)
servers.push(main)
if (settings.metrics.enabled && settings.metrics.port !== 0) {
  const side = await startPlainServer(metricsOnlyApp(deps.metrics, settings.metrics.path).fetch, settings.host, settings.metrics.port).catch((error) =>
    exitOnListenError(error, settings.host, settings.metrics.port, logger),
  )
  servers.push(side)
  logger.info({ address: side.address, port: side.port, path: settings.metrics.path }, 'metrics listening')
}
deps.lifecycle.markReady()
logger.info({ address: main.address, port: main.port, protocol: main.protocol }, 'listening')
logger.flush()
