import { getConnInfo, serveStatic, upgradeWebSocket } from 'hono/deno'
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

// The slice of Deno's API used here (Deno's types are not part of this tsconfig; this file only runs under Deno).
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request, info: object) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
}

// Deno runs the Node config loader through its Node compatibility (`process`, `node:fs`): same env
// naming rule, `--config`, CONFIG_FILE, config/default.yaml.
const config = await loadProcessConfig()
exitOnUnsupported(config, 'deno')
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
  // Deno's 101 response has immutable headers; the response-header bag leaves 101s alone.
  upgradeWebSocket: settings.websocket.enabled ? upgradeWebSocket : undefined,
  workspaceFs: nodeWorkspaceFs(),
})
const tracing = await startTracing({ logger, serviceName: 'assistant-server', version: deps.version, env: process.env })
if (tracing) onClose.push({ name: 'tracing', close: () => tracing.shutdown() })
await announce(deps)
const app = createApp(deps)

const server = Deno.serve(
  {
    hostname: settings.host,
    port: settings.port,
    onListen: ({ hostname, port }) => {
      deps.lifecycle.markReady()
      logger.info({ address: hostname, port, runtime: 'deno' }, 'listening')
    },
  },
  // The serve info (with `remoteAddr`) is the Hono env, so `getConnInfo` can read the peer address.
  (request, info) => app.fetch(request, info),
)
// `shutdown()` stops accepting and waits for in-flight requests; Deno has no forced close, the exit ends them.
const drain = async (deadlineMs: number) => {
  // `shutdown()` also waits for upgraded WebSockets: say goodbye (1001) first.
  deps.hub.closeAll()
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>((wake) => (timer = setTimeout(() => wake(false), deadlineMs)))
  const drained = await Promise.race([server.shutdown().then(() => true as const), late])
  clearTimeout(timer)
  return drained
}
const shutdown = gracefulShutdown({ logger, markDraining: () => deps.lifecycle.markDraining(), servers: [{ drain }], timeoutMs: settings.shutdown_timeout, onClose })
installProcessHandlers(logger, shutdown)
