import { getConnInfo, serveStatic, upgradeWebSocket } from 'hono/deno'
import { prepareProcess } from './process.ts'
import { gracefulShutdown, installProcessHandlers, settledWithin } from './shutdown.ts'

// The slice of Deno's API used here (Deno's types are not part of this tsconfig; this file only runs under Deno).
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request, info: object) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
}

// Deno runs the process start-up through its Node compatibility (`process`, `node:fs`): same env
// naming rule, `--config`, CONFIG_FILE, config/default.yaml.
const { settings, logger, deps, app, onClose, markDraining } = await prepareProcess({
  runtime: 'deno',
  peerAddress: (c) => getConnInfo(c).remote.address,
  serveStatic: (root) => serveStatic({ root }),
  // Deno's 101 response has immutable headers; the response-header bag leaves 101s alone.
  upgradeWebSocket: () => upgradeWebSocket,
})

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
// `shutdown()` stops accepting and waits for in-flight requests and open WebSockets (closed 1001
// when draining starts); Deno has no forced close, the exit ends what is left.
const drain = (deadlineMs: number) => settledWithin(server.shutdown(), deadlineMs)
const shutdown = gracefulShutdown({ logger, markDraining, servers: [{ drain }], timeoutMs: settings.shutdown_timeout, onClose })
installProcessHandlers(logger, shutdown)
