import assert from 'node:assert/strict'
import http2 from 'node:http2'
import net from 'node:net'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { Agent, request } from 'undici'
import { startServer, type StartedServer } from '../../src/runtimes/node-server.ts'
import { createNodeWebSocket } from '../../src/runtimes/node-websocket.ts'
import { KEYS, testApp } from '../helpers/app.ts'

const CHUNK = new Uint8Array(64 * 1024)
const chunks = (count: number) => Readable.from((function* () {
  for (let i = 0; i < count; i++) yield CHUNK
})())

/**
 * The app on a real Node server with `env` (each test names the setting it is about), and an undici
 * agent with one keep-alive connection, the client of issue 11's report.
 */
async function serve(env: Record<string, string>, http2Enabled = false) {
  const websocket = createNodeWebSocket()
  const { app, config } = await testApp({ env, deps: { upgradeWebSocket: websocket.upgradeWebSocket } })
  const server = await startServer(app.fetch, { ...config.server, host: '127.0.0.1', port: 0, enable_http2: http2Enabled }, { websocket: websocket.websocket })
  return { server, base: `http://127.0.0.1:${server.port}` }
}

async function stop(server: StartedServer | undefined): Promise<void> {
  await server?.drain(1_000)
}

describe('early answers on HTTP/1.1 (Node, keep-alive agent)', () => {
  let server: StartedServer | undefined
  let base = ''
  const agent = new Agent({ connections: 1, headersTimeout: 10_000, bodyTimeout: 10_000 })
  before(async () => {
    // The report's setting: a 1 MiB body limit, then 40 chunks of 64 KiB.
    ;({ server, base } = await serve({ MAX_REQUEST_BODY_SIZE: '1048576' }))
  })
  after(async () => {
    await agent.close()
    await stop(server)
  })

  const post = (headers: Record<string, string>, body: Readable | string) =>
    request(`${base}/api/v1/chat`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', ...headers }, body })

  async function twoGets(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const res = await request(`${base}/health`, { dispatcher: agent })
      assert.equal(res.statusCode, 200)
      await res.body.text()
    }
  }

  it('a 413 says Connection: close, and the next two requests on the agent succeed', async () => {
    const res = await post({ authorization: `Bearer ${KEYS.alice}` }, chunks(40))
    assert.equal(res.statusCode, 413)
    assert.equal(res.headers.connection, 'close')
    assert.equal(((await res.body.json()) as { status: number }).status, 413)
    await twoGets()
  })

  it('a 401 on a POST whose body is still arriving says Connection: close too', async () => {
    const res = await post({}, chunks(40))
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers.connection, 'close')
    await res.body.text()
    await twoGets()
  })

  it('an answer after the body was read keeps the connection', async () => {
    const read = await post({ authorization: `Bearer ${KEYS.alice}` }, JSON.stringify({ message: 'keep me' }))
    assert.equal(read.statusCode, 200)
    assert.equal(read.headers.connection, 'keep-alive')
    await read.body.text()
    await twoGets()
  })

  it('a refused WebSocket upgrade says Connection: close and closes the socket', async () => {
    const socket = net.connect(server!.port, '127.0.0.1')
    socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    let text = ''
    socket.on('data', (chunk) => (text += chunk))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the socket stayed open: ${text}`)), 5_000)
      socket.once('close', () => (clearTimeout(timer), resolve()))
    })
    assert.match(text, /^HTTP\/1\.1 401 /)
    assert.match(text, /\r\nConnection: close\r\n/i)
  })
})

describe('early answers on HTTP/1.1: 429 on a POST (Node)', () => {
  let server: StartedServer | undefined
  let base = ''
  const agent = new Agent({ connections: 1, headersTimeout: 10_000, bodyTimeout: 10_000 })
  before(async () => {
    // Rate limiting on (the test helper turns it off), with a bucket of one token that refills slowly.
    ;({ server, base } = await serve({ RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '1', RATE_LIMIT_REQUESTS_PER_MINUTE: '1' }))
  })
  after(async () => {
    await agent.close()
    await stop(server)
  })

  it('says Connection: close, and the probes after it on the agent succeed', async () => {
    const headers = { authorization: `Bearer ${KEYS.alice}`, 'content-type': 'application/json' }
    const first = await request(`${base}/api/v1/me`, { dispatcher: agent, headers })
    assert.equal(first.statusCode, 200)
    await first.body.text()
    const limited = await request(`${base}/api/v1/chat`, { method: 'POST', dispatcher: agent, headers, body: chunks(40) })
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.headers.connection, 'close')
    await limited.body.text()
    // Probes are never limited.
    for (let i = 0; i < 2; i++) {
      const res = await request(`${base}/health`, { dispatcher: agent })
      assert.equal(res.statusCode, 200)
      await res.body.text()
    }
  })
})

describe('early answers on HTTP/2 (Node, h2c)', () => {
  let server: StartedServer | undefined
  let session: http2.ClientHttp2Session | undefined
  before(async () => {
    // HTTP/2 on (the test is about it), with the report's 1 MiB body limit.
    const started = await serve({ MAX_REQUEST_BODY_SIZE: '1048576' }, true)
    server = started.server
    session = http2.connect(started.base)
  })
  after(async () => {
    session?.destroy()
    await stop(server)
  })

  function exchange(headers: http2.OutgoingHttpHeaders, body?: Readable): Promise<{ status: number; text: string; rstCode: number | undefined }> {
    return new Promise((resolve, reject) => {
      const stream = session!.request(headers)
      let status = 0
      let text = ''
      stream.on('response', (h) => (status = Number(h[':status'])))
      stream.on('data', (chunk) => (text += chunk))
      // Writing into a stream the server has reset fails; the answer came first.
      stream.on('error', () => {})
      stream.on('close', () => resolve({ status, text, rstCode: stream.rstCode }))
      const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000)
      stream.on('close', () => clearTimeout(timer))
      if (body) body.pipe(stream)
      else stream.end()
    })
  }

  it('a 413 ends only that stream; the session serves the next requests', async () => {
    let goaway = false
    session!.on('goaway', () => (goaway = true))
    const res = await exchange({ ':method': 'POST', ':path': '/api/v1/chat', authorization: `Bearer ${KEYS.alice}`, 'content-type': 'application/json' }, chunks(40))
    assert.equal(res.status, 413)
    assert.equal(JSON.parse(res.text).status, 413)
    for (let i = 0; i < 2; i++) assert.equal((await exchange({ ':path': '/health' })).status, 200)
    assert.equal(goaway, false, 'the session was not closed')
    assert.equal(session!.closed || session!.destroyed, false)
  })
})
