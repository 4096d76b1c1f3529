import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { serveStatic } from '@hono/node-server/serve-static'
import pino from 'pino'
import { createApp } from '../app.ts'
import { buildDeps } from '../deps.ts'
import { announce } from '../startup.ts'
import { loadProcessConfig } from './node-config.ts'

const config = await loadProcessConfig()
const logger = pino({ level: config.server.log_level })
const deps = buildDeps({
  config,
  logger,
  peerAddress: (c) => getConnInfo(c).remote.address,
  serveStatic: serveStatic({ root: config.server.static_dir }),
})
await announce(deps)
const app = createApp(deps)

const server = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, (info) => {
  deps.lifecycle.markReady()
  logger.info({ address: info.address, port: info.port }, 'listening')
})

const shutdown = (signal: string) => {
  logger.info({ signal }, 'shutting down')
  deps.lifecycle.markDraining()
  server.close(() => process.exit(0))
}
process.once('SIGTERM', () => shutdown('SIGTERM'))
process.once('SIGINT', () => shutdown('SIGINT'))
