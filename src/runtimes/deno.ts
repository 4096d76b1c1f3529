import { serveStatic, upgradeWebSocket } from 'hono/deno'
import { bindOrExit, prepareProcess } from './process.ts'
import { gracefulShutdown, installProcessHandlers, settledWithin } from './shutdown.ts'

interface NetAddr {
  hostname: string
  port: number
}

// The slice of Deno's API used here (Deno's types are not part of this tsconfig; this file only runs under Deno).
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen: (addr: NetAddr) => void },
    handler: (request: Request, info: { remoteAddr: NetAddr }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
}

/**
 * The Hono env of one request: Deno's serve info with the peer address read at most once. Deno throws
 * "Request closed" when `info.remoteAddr` is read after the request ended, which is at once for a
 * WebSocket upgrade (the access log writes after the upgrade response) and at a stream's end (its log
 * line is written then). An upgrade reads the address before the app runs; a read after the end
 * yields no address rather than an error thrown into Deno's serve loop, which then stops listening.
 */
class DenoEnv {
  readonly #info: { remoteAddr: NetAddr }
  #remoteAddr: NetAddr | null | undefined
  constructor(info: { remoteAddr: NetAddr }, readNow: boolean) {
    this.#info = info
    if (readNow) this.remoteAddr
  }
  get remoteAddr(): NetAddr | null {
    if (this.#remoteAddr === undefined) {
      try {
        this.#remoteAddr = this.#info.remoteAddr
      } catch {
        this.#remoteAddr = null
      }
    }
    return this.#remoteAddr
  }
}

// Deno runs the process start-up through its Node compatibility (`process`, `node:fs`): same env
// naming rule, `--config`, CONFIG_FILE, config/default.yaml.
const { settings, logger, deps, app, onClose, markDraining } = await prepareProcess({
  runtime: 'deno',
  peerAddress: (c) => (c.env as { remoteAddr: NetAddr | null }).remoteAddr?.hostname,
  serveStatic: (root) => serveStatic({ root }),
  // Deno's 101 response has immutable headers; the response-header bag leaves 101s alone.
  upgradeWebSocket: () => upgradeWebSocket,
})

const server = bindOrExit(settings, logger, () =>
  Deno.serve(
    {
      hostname: settings.host,
      port: settings.port,
      onListen: ({ hostname, port }) => {
        deps.lifecycle.markReady()
        logger.info({ address: hostname, port, runtime: 'deno' }, 'listening')
      },
    },
    (request, info) => app.fetch(request, new DenoEnv(info, request.headers.has('upgrade'))),
  ),
)
// `shutdown()` stops accepting and waits for in-flight requests and open WebSockets (closed 1001
// when draining starts); Deno has no forced close, the exit ends what is left.
const drain = (deadlineMs: number) => settledWithin(server.shutdown(), deadlineMs)
const shutdown = gracefulShutdown({ logger, markDraining, servers: [{ drain }], timeoutMs: settings.shutdown_timeout, onClose })
installProcessHandlers(logger, shutdown)
