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
import { refusal, within } from './harness.ts'

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
  let port: number
  const handlerErrors: unknown[] = []
  const closes: number[] = []
  const clients = new Set<WebSocket>()

  before(async () => {
    const app = new Hono()
    app.use(async (c, next) => {
      await next()
      c.header('x-request-id', 'upgrade-request')
    })
    app.get('/refused', (c) => c.json({ title: 'Refused', status: 403 }, 403, { 'content-type': 'application/problem+json' }))
    app.get(
      '/ws',
      async (c, next) => {
        c.set('requestState' as never, { big: 'x'.repeat(1024) } as never)
        requestContext = new WeakRef(c)
        await next()
      },
      nodeWs.upgradeWebSocket(
        () => {
          let open: (ws: WSContext) => void
          opened = new Promise((resolve) => (open = resolve))
          return {
            onOpen: (_event, ws) => open(ws),
            onMessage: (event, ws) => {
              if (event.data === 'throw') throw new Error('handler failed')
              ws.send(typeof event.data === 'string' ? `echo:${event.data}` : `binary:${(event.data as ArrayBuffer).byteLength}`)
            },
            onClose: (event) => closes.push((event as CloseEvent).code),
          }
        },
        { onError: (error) => handlerErrors.push(error) },
      ),
    )
    server = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
      nodeWs.websocket.attach(s, app.fetch)
    })
    port = (server.address() as AddressInfo).port
    url = `ws://127.0.0.1:${port}/ws`
  })
  after(async () => {
    for (const ws of clients) ws.terminate()
    await nodeWs.close()
    ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
    await new Promise((resolve) => server.close(resolve))
  })

  async function connect(path = '', options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
    const ws = new WebSocket(url + path, options)
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

  it('adds the app response headers to the 101', async () => {
    const ws = new WebSocket(url)
    clients.add(ws)
    const upgrade = new Promise<Record<string, unknown>>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)))
    assert.equal((await within(upgrade))['x-request-id'], 'upgrade-request')
    ws.close()
  })

  it('delivers text as strings and binary as ArrayBuffers, and reports the close code', async () => {
    const ws = await connect()
    const replies: string[] = []
    const two = new Promise((resolve) => ws.on('message', (data) => replies.push(String(data)) === 2 && resolve(undefined)))
    ws.send('hi')
    ws.send(Buffer.from([1, 2, 3]))
    await within(two)
    assert.deepEqual(replies, ['echo:hi', 'binary:3'])
    const closed = new Promise((resolve) => ws.once('close', resolve))
    ws.close(4000)
    await within(closed)
    await within(
      (async () => {
        while (!closes.includes(4000)) await new Promise((resolve) => setTimeout(resolve, 5))
      })(),
    )
  })

  it("hands a handler's exception to options.onError and keeps the socket open", async () => {
    const ws = await connect()
    ws.send('throw')
    const echo = new Promise((resolve) => ws.once('message', (data) => resolve(String(data))))
    ws.send('after')
    assert.equal(await within(echo), 'echo:after')
    assert.equal((handlerErrors.at(-1) as Error).message, 'handler failed')
    ws.close()
  })

  it("answers a refused upgrade with the app's whole response, body included", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/refused`)
    clients.add(ws)
    const refused = new Promise<{ status?: number; type: unknown; body: string }>((resolve) =>
      ws.once('unexpected-response', (_req, res) => {
        let body = ''
        res.on('data', (chunk) => (body += chunk)).on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }))
      }),
    )
    ws.once('error', () => {})
    const { status, type, body } = await within(refused)
    assert.equal(status, 403)
    assert.equal(type, 'application/problem+json')
    assert.deepEqual(JSON.parse(body), { title: 'Refused', status: 403 })
  })

  it('refuses with 400 a Host header that would change the URL the app sees', async () => {
    const { status } = await refusal(new WebSocket(url, { headers: { host: 'evil.example/other?' } }))
    assert.equal(status, 400)
  })
})
