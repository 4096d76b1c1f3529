import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocketServer } from 'ws'

type Fetch = (request: Request, env: Record<PropertyKey, unknown>) => Response | Promise<Response>
type UpgradeEmitter = { on(event: 'upgrade', listener: (request: IncomingMessage, socket: Duplex) => void): unknown }

/** Headers that describe the connection, not the refusal; we send our own `Connection`/`Content-Length`. */
const HOP_BY_HOP = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer'])

/**
 * Refused WebSocket upgrades leave with the app's whole problem response, body included.
 *
 * @hono/node-server 2.1 answers a refused upgrade with its status and headers only (`rejectUpgradeRequest`
 * writes `Content-Length: 0`), and only while it is the server's sole 'upgrade' listener. So we become a
 * second listener: node-server then leaves refusals to us, and we write the response the app produced.
 * Accepted upgrades are recognised by `ws`'s 'connection' event, which fires before we look.
 */
export function upgradeRefusals(wss: WebSocketServer) {
  const responses = new WeakMap<IncomingMessage, Promise<Response>>()
  const accepted = new WeakSet<IncomingMessage>()
  wss.on('connection', (_socket, request: IncomingMessage) => accepted.add(request))

  return {
    /** Remembers the app's response to each upgrade request (node-server passes `wss` in their env). */
    wrapFetch(fetch: Fetch): Fetch {
      return (request, env) => {
        const result = fetch(request, env)
        if (env && 'wss' in env && env.incoming) responses.set(env.incoming as IncomingMessage, Promise.resolve(result))
        return result
      }
    },
    /** Call after `serve()`, so node-server's own listener runs first. */
    attach(server: UpgradeEmitter): void {
      server.on('upgrade', async (request, socket) => {
        const pending = responses.get(request)
        if (!pending) return
        const response = await pending.catch(() => undefined)
        // node-server completes an accepted handshake synchronously once the app has answered.
        await new Promise((resolve) => setImmediate(resolve))
        if (accepted.has(request) || socket.destroyed) return
        const status = response?.status ?? 500
        const body = response ? Buffer.from(await response.arrayBuffer()) : Buffer.alloc(0)
        const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', `Content-Length: ${body.length}`]
        response?.headers.forEach((value, name) => {
          if (!HOP_BY_HOP.has(name)) head.push(`${name}: ${value}`)
        })
        socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]))
      })
    },
  }
}
