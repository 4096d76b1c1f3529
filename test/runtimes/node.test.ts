import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { ManualClock } from '../../src/kernel/clock.ts'
import { startPlainServer, startServer } from '../../src/runtimes/node-server.ts'
import { gracefulShutdown } from '../../src/runtimes/shutdown.ts'
import { memoryLogger, testApp } from '../helpers/app.ts'
import { ROOT, runToExit, startServerProcess, NODE, type ServerProcess } from '../helpers/process.ts'

const KEY = 'node-test-key-0123456789'
const API_KEYS = `tester:${KEY}`

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  httpVersion: string
}

/** One HTTP/1.1 request; `agent` decides keep-alive; bounded by a 5 s timeout. */
function request(url: string, options: https.RequestOptions = {}, body?: string): Promise<Reply> {
  const lib = url.startsWith('https:') ? https : http
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { timeout: 5000, ...options }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, httpVersion: res.httpVersion }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(body)
  })
}

/** Resolves with the error code of a TCP connect, or 'connected'. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => {
      socket.destroy()
      resolve('connected')
    })
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
  })
}

/** A TLS handshake with the given client options: the negotiated protocol and cipher, or the error code. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<{ protocol?: string | null; cipher?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name })
      socket.end()
    })
    socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')))
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }))
  })
}

function certificate(dir: string, kind: 'ec' | 'rsa'): { cert: string; key: string } {
  const cert = join(dir, `${kind}-cert.pem`)
  const key = join(dir, `${kind}-key.pem`)
  const keyArgs = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048']
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key }
}

describe('node entrypoint over plain HTTP', () => {
  let server: ServerProcess
  before(async () => {
    server = await startServerProcess({ env: { API_KEYS } })
  })
  after(() => server?.stop())

  it('logs the real bound port and serves GET /health with 200', async () => {
    assert.ok(server.port > 0)
    const res = await request(`http://127.0.0.1:${server.port}/health`)
    assert.equal(res.status, 200)
    assert.equal(JSON.parse(res.body).status, 'healthy')
    assert.match(String(res.headers['x-request-id']), /^[A-Za-z0-9._-]+$/)
  })

  it('is ready once listening and authenticates API routes', async () => {
    assert.equal((await request(`http://127.0.0.1:${server.port}/ready`)).status, 200)
    const me = await request(`http://127.0.0.1:${server.port}/api/v1/me`, { headers: { authorization: `Bearer ${KEY}` } })
    assert.equal(me.status, 200)
    assert.deepEqual(JSON.parse(me.body), { id: 'tester' })
    assert.equal((await request(`http://127.0.0.1:${server.port}/api/v1/me`)).status, 401)
  })
})

describe('node entrypoint over TLS and HTTP/2', () => {
  let dir: string
  let ec: { cert: string; key: string }
  let server: ServerProcess
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'assistant-tls-'))
    ec = certificate(dir, 'ec')
    server = await startServerProcess({
      env: { API_KEYS, TLS_ENABLED: 'true', TLS_CERT_FILE: ec.cert, TLS_KEY_FILE: ec.key, ENABLE_HTTP2: 'true', MAX_CONCURRENT_STREAMS: '7' },
    })
  })
  after(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('negotiates TLS 1.3 by default and TLS 1.2 with an ECDHE AEAD suite', async () => {
    const modern = await handshake(server.port, {})
    assert.equal(modern.protocol, 'TLSv1.3')
    const tls12 = await handshake(server.port, { maxVersion: 'TLSv1.2' })
    assert.equal(tls12.protocol, 'TLSv1.2')
    assert.match(tls12.cipher!, /^ECDHE-ECDSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/)
  })

  it('refuses TLS 1.1 and TLS 1.2 suites without AEAD', async () => {
    // SECLEVEL=0 lets the client offer TLS 1.1 at all, so the refusal comes from the server.
    const old = await handshake(server.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })
    assert.equal(old.error, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION')
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-SHA']) {
      const weak = await handshake(server.port, { maxVersion: 'TLSv1.2', ciphers: `${cipher}:@SECLEVEL=0` })
      assert.equal(weak.error, 'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', cipher)
    }
  })

  it('answers an HTTP/2 request chosen by ALPN, with max_concurrent_streams from config', async () => {
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false })
    try {
      await once(session, 'remoteSettings')
      assert.equal(session.alpnProtocol, 'h2')
      assert.equal(session.remoteSettings.maxConcurrentStreams, 7)
      const stream = session.request({ ':path': '/api/v1/me', authorization: `Bearer ${KEY}` })
      let body = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk) => (body += chunk))
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
      await once(stream, 'end')
      assert.equal(headers[':status'], 200)
      assert.deepEqual(JSON.parse(body), { id: 'tester' })
    } finally {
      session.destroy()
    }
  })

  it('falls back to HTTP/1.1 on the same port for clients without h2', async () => {
    const res = await request(`https://127.0.0.1:${server.port}/health`, { rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } as https.RequestOptions)
    assert.equal(res.status, 200)
    assert.equal(res.httpVersion, '1.1')
    assert.match(String(res.headers['strict-transport-security']), /max-age=/)
  })

  it('refuses TLS 1.2 suites without ECDHE key exchange (RSA certificate)', async () => {
    const rsa = certificate(dir, 'rsa')
    const rsaServer = await startServerProcess({ env: { API_KEYS, TLS_ENABLED: 'true', TLS_CERT_FILE: rsa.cert, TLS_KEY_FILE: rsa.key } })
    try {
      const good = await handshake(rsaServer.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })
      assert.equal(good.cipher, 'ECDHE-RSA-AES128-GCM-SHA256')
      for (const cipher of ['AES128-GCM-SHA256', 'DHE-RSA-AES128-GCM-SHA256']) {
        const refused = await handshake(rsaServer.port, { maxVersion: 'TLSv1.2', ciphers: cipher })
        assert.equal(refused.error, 'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', cipher)
      }
    } finally {
      await rsaServer.stop()
    }
  })
})

describe('node entrypoint shutdown on SIGTERM', () => {
  it('closes idle keep-alive connections at once, exits 0, then refuses connections', async () => {
    const server = await startServerProcess({ env: { API_KEYS, SHUTDOWN_TIMEOUT: '20s' } })
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      const res = await request(`http://127.0.0.1:${server.port}/live`, { agent })
      assert.equal(res.status, 200)
      const [socket] = Object.values(agent.freeSockets).flat()
      assert.ok(socket, 'the keep-alive connection is idle in the agent')
      const socketClosed = once(socket, 'close')
      server.child.kill('SIGTERM')
      await socketClosed
      // Well before the 20 s budget: idle connections do not hold the shutdown.
      assert.equal(await server.exited, 0)
      assert.equal(await connectOutcome(server.port), 'ECONNREFUSED')
      const messages = server.lines.map((line) => line.msg)
      assert.ok(messages.includes('shutting down: draining requests'))
      assert.equal(messages.at(-1), 'stopped')
      agent.destroy()
    } finally {
      await server.stop()
    }
  })

  it('closes open WebSocket clients with 1001 and still exits 0 well inside the budget', async () => {
    const server = await startServerProcess({ env: { API_KEYS, SHUTDOWN_TIMEOUT: '20s' } })
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { authorization: `Bearer ${KEY}` } })
      await once(ws, 'open')
      ws.send(JSON.stringify({ type: 'ping' }))
      const [pong] = await once(ws, 'message')
      assert.equal(JSON.parse(String(pong)).type, 'pong')
      const closed = once(ws, 'close')
      const started = Date.now()
      server.child.kill('SIGTERM')
      const [code] = await closed
      assert.equal(code, 1001)
      assert.equal(await server.exited, 0)
      // The open socket did not hold the drain to its 20 s deadline.
      assert.ok(Date.now() - started < 15_000)
    } finally {
      await server.stop()
    }
  })

  it('lets a POST whose body is still arriving finish with its response, then exits 0', async () => {
    const server = await startServerProcess({ env: { API_KEYS, SHUTDOWN_TIMEOUT: '20s' } })
    try {
      const body = JSON.stringify({ title: 'sent while the server drains' })
      const socket = net.connect({ port: server.port, host: '127.0.0.1' })
      let received = ''
      socket.setEncoding('utf8')
      socket.on('data', (chunk) => (received += chunk))
      await once(socket, 'connect')
      // Expect: 100-continue makes the server say when it has the request, so the signal lands mid-request.
      socket.write(
        `POST /api/v1/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
      )
      await until(() => received.includes('100 Continue'), 'the 100 Continue')
      socket.write(body.slice(0, 10))
      server.child.kill('SIGTERM')
      await until(() => server.lines.some((line) => line.msg === 'shutting down: draining requests'), 'the drain to start')
      assert.equal(await connectOutcome(server.port), 'ECONNREFUSED')
      socket.end(body.slice(10))
      await once(socket, 'close')
      const final = received.slice(received.indexOf('\r\n\r\n') + 4)
      assert.match(final, /^HTTP\/1\.1 201 /)
      assert.match(final, /"title":"sent while the server drains"/)
      assert.equal(await server.exited, 0)
    } finally {
      await server.stop()
    }
  })
})

/** Polls `check` every 20 ms for up to 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('graceful drain (startServer + gracefulShutdown, real sockets)', () => {
  it('lets a slow in-flight request finish while /ready is 503, then refuses new connections and exits 0', async () => {
    const { app, deps, config } = await testApp()
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    let arrived!: () => void
    const slowArrived = new Promise<void>((resolve) => (arrived = resolve))
    const fetch = async (req: Request, env: unknown) => {
      if (new URL(req.url).pathname !== '/slow') return app.fetch(req, env as never)
      arrived()
      await released
      return new Response('done')
    }
    const started = await startServer(fetch, { ...config.server, host: '127.0.0.1', port: 0 })
    const { logger, lines } = memoryLogger()
    const exits: number[] = []
    const closed: string[] = []
    const shutdown = gracefulShutdown({
      logger,
      markDraining: () => deps.lifecycle.markDraining(),
      servers: [started],
      timeoutMs: 10_000,
      onClose: [{ name: 'store', close: async () => void closed.push('store') }],
      exit: (code) => void exits.push(code),
    })
    try {
      const slow = request(`http://127.0.0.1:${started.port}/slow`, { agent: new http.Agent({ keepAlive: true }) })
      await slowArrived
      const stopping = shutdown('test')
      assert.equal((await app.request('/ready')).status, 503)
      assert.equal(await connectOutcome(started.port), 'ECONNREFUSED')
      assert.deepEqual(exits, [], 'still draining while the request is in flight')
      release()
      const res = await slow
      assert.equal(res.status, 200)
      assert.equal(res.body, 'done')
      await stopping
      assert.deepEqual(closed, ['store'])
      assert.deepEqual(exits, [0])
      assert.ok(lines.some((line) => line.msg === 'stopped'))
    } finally {
      release()
      await started.drain(0)
    }
  })

  it('destroys connections still busy at the deadline and still exits 0', async () => {
    const { config } = await testApp()
    let arrived!: () => void
    const inFlight = new Promise<void>((resolve) => (arrived = resolve))
    const never = () => (arrived(), new Promise<Response>(() => {}))
    const started = await startServer(never, { ...config.server, host: '127.0.0.1', port: 0 })
    const { logger, lines } = memoryLogger()
    const exits: number[] = []
    const shutdown = gracefulShutdown({ logger, markDraining: () => {}, servers: [started], timeoutMs: 200, onClose: [], exit: (code) => void exits.push(code) })
    const stuck = request(`http://127.0.0.1:${started.port}/never`).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    )
    await inFlight
    await shutdown('test')
    assert.equal(await stuck, 'ECONNRESET')
    assert.deepEqual(exits, [0])
    assert.ok(lines.some((line) => line.msg === 'shutdown deadline reached: remaining connections were closed'))
  })

  it('a second signal forces exit at once', async () => {
    const { config } = await testApp()
    let arrived!: () => void
    const inFlight = new Promise<void>((resolve) => (arrived = resolve))
    const never = () => (arrived(), new Promise<Response>(() => {}))
    const started = await startServer(never, { ...config.server, host: '127.0.0.1', port: 0 })
    const { logger } = memoryLogger()
    const exits: number[] = []
    const shutdown = gracefulShutdown({ logger, markDraining: () => {}, servers: [started], timeoutMs: 5_000, onClose: [], exit: (code) => void exits.push(code) })
    const stuck = request(`http://127.0.0.1:${started.port}/never`).catch(() => 'closed')
    await inFlight
    const first = shutdown('SIGTERM')
    await shutdown('SIGINT')
    assert.deepEqual(exits, [1])
    await started.drain(0)
    await first
    await stuck
  })
})

describe('write_timeout (startServer, real sockets, a ManualClock for the sweep)', () => {
  // The shipped write_timeout, 30 s; the sweep runs every second on the test's clock.
  const WRITE_TIMEOUT = 30_000
  /**
   * A GET whose `headers` resolve when the response starts, `received()` counts body bytes, and
   * `outcome` says how it ended: `ended` (complete), `closed` (cut mid-body) or `still open` after 5 s.
   */
  const get = (port: number, path: string, agent?: http.Agent) => {
    let bytes = 0
    let headersArrived!: () => void
    const headers = new Promise<void>((resolve) => (headersArrived = resolve))
    const outcome = new Promise<{ outcome: 'ended' | 'closed' | 'still open'; reused: boolean }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
        headersArrived()
        let settled = false
        const settle = (outcome: 'ended' | 'closed' | 'still open') => {
          if (settled) return
          settled = true
          clearTimeout(bound)
          resolve({ outcome, reused: req.reusedSocket })
        }
        const bound = setTimeout(() => {
          settle('still open')
          req.destroy()
        }, 5_000)
        res.on('data', (chunk: Buffer) => (bytes += chunk.length))
        res.on('end', () => settle('ended'))
        res.on('close', () => settle(res.complete ? 'ended' : 'closed'))
        res.on('error', () => settle('closed'))
      })
      req.on('error', reject)
    })
    return { headers, outcome, received: () => bytes }
  }
  /** A body the test writes: `send()` enqueues one byte, `end()` closes it. */
  const controlledBody = () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
    return { body, send: () => controller.enqueue(new TextEncoder().encode('.')), end: () => controller.close() }
  }
  const serve = async (clock: ManualClock, bodies: Record<string, () => ReadableStream<Uint8Array>> = {}) => {
    const { config } = await testApp()
    return startServer(
      (req) => {
        const body = bodies[new URL(req.url).pathname]
        return new Response(body ? body() : 'ok')
      },
      { ...config.server, host: '127.0.0.1', port: 0 },
      { clock },
    )
  }

  it('closes a connection whose response moves no byte for write_timeout', async () => {
    const clock = new ManualClock()
    const body = controlledBody()
    const started = await serve(clock, { '/stalled': () => body.body })
    try {
      const stalled = get(started.port, '/stalled')
      await stalled.headers
      await clock.advance(WRITE_TIMEOUT - 1_000)
      body.send()
      await until(() => stalled.received() === 1, 'a byte after a stall shorter than write_timeout')
      // The sweep notes a change of the byte count at most a second late, so allow it that second.
      await clock.advance(WRITE_TIMEOUT + 1_000)
      assert.equal((await stalled.outcome).outcome, 'closed')
    } finally {
      await started.drain(0)
    }
  })

  it('keeps a slow response whose bytes keep moving, past write_timeout', async () => {
    const clock = new ManualClock()
    const dribble = controlledBody()
    const started = await serve(clock, { '/dribble': () => dribble.body })
    try {
      const slow = get(started.port, '/dribble')
      await slow.headers
      for (let sent = 1; sent <= 3; sent++) {
        dribble.send()
        await until(() => slow.received() === sent, `byte ${sent} to arrive`)
        await clock.advance(WRITE_TIMEOUT - 1_000)
      }
      dribble.end()
      assert.equal((await slow.outcome).outcome, 'ended', `open for ${3 * (WRITE_TIMEOUT - 1_000)} ms of the clock, past write_timeout`)
    } finally {
      await started.drain(0)
    }
  })

  it('leaves idle keep-alive connections to idle_timeout', async () => {
    const clock = new ManualClock()
    const started = await serve(clock)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      assert.equal((await get(started.port, '/', agent).outcome).outcome, 'ended')
      await clock.advance(5 * WRITE_TIMEOUT)
      const second = await get(started.port, '/', agent).outcome
      assert.equal(second.outcome, 'ended')
      assert.equal(second.reused, true, 'the idle connection was still open')
    } finally {
      agent.destroy()
      await started.drain(0)
    }
  })
})

describe('node entrypoint configuration errors', () => {
  it('PORT=abc exits 2 naming the key', async () => {
    const { code, stderr } = await runToExit({ env: { API_KEYS, PORT: 'abc' } })
    assert.equal(code, 2)
    assert.match(stderr, /server\.port/)
    assert.match(stderr, /PORT/)
  })

  it('TLS enabled with a missing certificate file exits 2 naming the key', async () => {
    const { code, stderr } = await runToExit({ env: { API_KEYS, TLS_ENABLED: 'true', TLS_CERT_FILE: '/nonexistent/cert.pem' } })
    assert.equal(code, 2)
    assert.match(stderr, /server\.tls\.cert_file: no such file/)
    assert.match(stderr, /server\.tls\.key_file: required/)
  })

  it('an unknown key in the --config file exits 2 naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assistant-config-'))
    try {
      const file = join(dir, 'bad.yaml')
      writeFileSync(file, 'server:\n  port: 0\n  rate_limit:\n    burts: 5\n')
      const { code, stderr } = await runToExit({ env: { API_KEYS }, args: ['--config', file] })
      assert.equal(code, 2)
      assert.match(stderr, /burts/)
      assert.match(stderr, /bad\.yaml/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('dedicated metrics port', () => {
  let server: ServerProcess
  before(async () => {
    // Port 0 means "no dedicated port", so pick a free one first.
    const probe = await startPlainServer(() => new Response(), '127.0.0.1', 0)
    const port = probe.port
    await probe.drain(0)
    server = await startServerProcess({ env: { API_KEYS, METRICS_PORT: String(port) } })
  })
  after(() => server?.stop())

  it('serves /metrics on the metrics port and nothing else there', async () => {
    assert.ok(server.metricsPort)
    const metrics = await request(`http://127.0.0.1:${server.metricsPort}/metrics`)
    assert.equal(metrics.status, 200)
    assert.equal((await request(`http://127.0.0.1:${server.metricsPort}/health`)).status, 404)
  })

  it('does not serve /metrics on the main port', async () => {
    const res = await request(`http://127.0.0.1:${server.port}/metrics`)
    assert.notEqual(res.status, 200)
    assert.equal((await request(`http://127.0.0.1:${server.port}/health`)).status, 200)
  })
})

describe('npm run build', () => {
  it('bundles dist/node.js, which serves /health', async () => {
    execFileSync(join(ROOT, 'node_modules/.bin/esbuild'), buildArgs(), { cwd: ROOT, stdio: 'pipe' })
    const server = await startServerProcess({ script: 'dist/node.js', env: { API_KEYS } })
    try {
      const res = await request(`http://127.0.0.1:${server.port}/health`)
      assert.equal(res.status, 200)
    } finally {
      await server.stop()
    }
  })
})

/** The `build` script's esbuild arguments (its server step; the widget step is another command), read from package.json so the test builds what npm would. */
function buildArgs(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { build: string } }
  const server = pkg.scripts.build.split('&&').map((step) => step.trim()).find((step) => step.startsWith('esbuild '))
  assert.ok(server, 'the build script runs esbuild on the server entrypoint')
  return server.split(' ').slice(1)
}
