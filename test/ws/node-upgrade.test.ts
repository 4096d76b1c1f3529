import { serve, type ServerType } from '@hono/node-server'
import { Hono, type Context } from 'hono'
import type { WSContext } from 'hono/ws'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { createNodeWebSocket } from '../../src/runtimes/node-websocket.ts'
import { within } from './harness.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Full GCs with a turn of the event loop in between, so WeakRefs can be cleared. */
async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('Node upgradeWebSocket', () => {
  let server: ServerType
  let url: string
  const nodeWs = createNodeWebSocket()
  /** The request Context of the latest upgrade, and the WSContext its socket got. */
  let requestContext: WeakRef<Context> | undefined
  let opened: Promise<WSContext>
  const clients = new Set<WebSocket>()

  before(async () => {
    const app = new Hono()
    app.get(
      '/ws',
      async (c, next) => {
        c.set('requestState' as never, { big: 'x'.repeat(1024) } as never)
        requestContext = new WeakRef(c)
        await next()
      },
      nodeWs.upgradeWebSocket(() => {
        let open: (ws: WSContext) => void
        opened = new Promise((resolve) => (open = resolve))
        return {
          onOpen: (_event, ws) => open(ws),
          onMessage: (event, ws) => ws.send(`echo:${event.data}`),
        }
      }),
    )
    server = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0, websocket: nodeWs.websocket }, () => resolve(s))
    })
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`
  })
  after(async () => {
    for (const ws of clients) ws.terminate()
    await nodeWs.close()
    ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
    await new Promise((resolve) => server.close(resolve))
  })

  async function connect(path = ''): Promise<WebSocket> {
    const ws = new WebSocket(url + path)
    clients.add(ws)
    await within(new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject))))
    return ws
  }

  it('does not keep the request Context alive while the socket is open', async () => {
    const ws = await connect()
    await within(opened)
    await collectGarbage()
    assert.equal(requestContext?.deref(), undefined)
    // ...and the socket still works both ways.
    const echo = new Promise((resolve) => ws.once('message', (data) => resolve(String(data))))
    ws.send('hi')
    assert.equal(await within(echo), 'echo:hi')
    ws.close()
  })

  it('gives the socket its URL without the query, which may carry ?token=', async () => {
    const ws = await connect('?token=secret-key')
    const context = await within(opened)
    assert.equal(context.url?.pathname, '/ws')
    assert.equal(context.url?.search, '')
    ws.close()
  })
})
