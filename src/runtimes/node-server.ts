import { serve, type ServerType } from '@hono/node-server'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type ServerOptions as HttpServerOptions, type ServerResponse } from 'node:http'
import { createSecureServer, createServer as createH2cServer, type Http2Session } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { SecureVersion } from 'node:tls'
import { Hono } from 'hono'
import type { Registry } from 'prom-client'
import type { Config } from '../config/index.ts'
import type { AppEnv } from '../env.ts'
import { systemClock, type Clock } from '../kernel/clock.ts'
import { metricsHandler } from '../middleware/metrics/index.ts'
import { closingEarlyAnswers } from './node-early-answer.ts'
import type { NodeWebSocket } from './node-websocket.ts'
import { settledWithin } from './shutdown.ts'

/** ECDHE key exchange with AEAD ciphers only (TLS 1.2); TLS 1.3 suites are all AEAD and stay allowed. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
]
// Node takes TLS 1.3 suites from the same `ciphers` string; a list without any disables TLS 1.3.
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']

type ServerConfig = Config['server']
type Fetch = (request: Request, env: any) => Response | Promise<Response> | unknown

export interface StartedServer {
  server: ServerType
  /** The bound port (the real one when the config asked for 0). */
  port: number
  address: string
  protocol: 'http' | 'https' | 'h2' | 'h2c'
  /**
   * Stops accepting, lets in-flight requests finish, closes idle keep-alive connections at once and
   * each busy one as soon as its last request ends; destroys what is left after `deadlineMs`.
   * Resolves with whether everything drained in time.
   */
  drain(deadlineMs: number): Promise<boolean>
}

/** Node server options derived from the config: the read/write/idle budgets and the header size cap. */
export function httpServerOptions(server: ServerConfig): HttpServerOptions {
  return {
    // read_timeout bounds receiving a whole request, headers included (headersTimeout ≤ requestTimeout).
    requestTimeout: server.read_timeout,
    headersTimeout: server.read_timeout,
    // Node checks those two only this often (30 s by default, so a 30 s budget held for up to 60 s).
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(server.read_timeout / 4))),
    keepAliveTimeout: server.idle_timeout,
    maxHeaderSize: server.max_header_bytes,
  }
}

function tlsOptions(server: ServerConfig) {
  const { cert_file, key_file, min_version } = server.tls
  if (!cert_file || !key_file) throw new Error('server.tls.enabled needs server.tls.cert_file and server.tls.key_file')
  return {
    cert: readFileSync(cert_file),
    key: readFileSync(key_file),
    minVersion: `TLSv${min_version}` as SecureVersion,
    ciphers: [...TLS13_SUITES, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
  }
}

/**
 * Serves `fetch` with @hono/node-server as the config says: HTTP/1.1, HTTPS, HTTP/2 over TLS with
 * ALPN fallback to HTTP/1.1, or cleartext h2c (prior knowledge only: no HTTP/1.1 on that port).
 * `websocket` (from `createNodeWebSocket`) answers WebSocket upgrades through the same `fetch`;
 * `clock` runs the write_timeout sweep (default: the system clock). Resolves once the socket is bound.
 */
export function startServer(fetch: Fetch, server: ServerConfig, extra: { websocket?: NodeWebSocket['websocket']; clock?: Clock } = {}): Promise<StartedServer> {
  const tls = server.tls.enabled
  const h2 = server.enable_http2
  const h2settings = { maxConcurrentStreams: server.max_concurrent_streams, maxHeaderListSize: server.max_header_bytes }
  const base = { fetch: closingEarlyAnswers(fetch) as never, hostname: server.host, port: server.port }
  // Only WebSocket upgrades reach the upgrade listener; any other `Upgrade:` (h2c, foo) is an
  // ordinary request. Without this, Node hands every Upgrade request to the listener, and one it
  // does not take is never answered and its socket never freed.
  const http1 = { ...httpServerOptions(server), ...(extra.websocket && { shouldUpgradeCallback: isWebSocketUpgrade }) }
  const options =
    h2 && tls
      ? { ...base, createServer: createSecureServer, serverOptions: { ...tlsOptions(server), ...http1, allowHTTP1: true, settings: h2settings } }
      : h2
        ? { ...base, createServer: createH2cServer, serverOptions: { settings: h2settings } }
        : tls
          ? { ...base, createServer: createHttpsServer, serverOptions: { ...tlsOptions(server), ...http1 } }
          : { ...base, createServer: createHttpServer, serverOptions: http1 }
  const protocol = h2 ? (tls ? 'h2' : 'h2c') : tls ? 'https' : 'http'

  return new Promise((resolve, reject) => {
    // Declared before serve() so the listening callback can hand out `drain`.
    let tracker: ReturnType<typeof trackConnections>
    const onError = (error: Error) => reject(error)
    const started: ServerType = serve(options as Parameters<typeof serve>[0], (info: AddressInfo) => {
      started.off('error', onError)
      resolve({ server: started, port: info.port, address: info.address, protocol, drain: tracker.drain })
    })
    started.once('error', onError)
    // Past the cap Node closes new connections at once: an fd and a parser each cost memory.
    if (server.max_connections > 0) started.maxConnections = server.max_connections
    extra.websocket?.attach(started, fetch)
    tracker = trackConnections(started, tls)
    // write_timeout: a response with no bytes moving either way for this long has its connection closed.
    // On HTTP/1 a sweep checks the connections with a response in flight: a socket timeout would re-arm
    // on every request and refresh on every read and write. HTTP/2 streams keep Node's own timeout.
    if (h2) started.setTimeout(server.write_timeout)
    else tracker.closeStalled(server.write_timeout, extra.clock ?? systemClock)
  })
}

/** Whether Node should hand `request` to the upgrade listener (Node 24's `shouldUpgradeCallback`). */
export function isWebSocketUpgrade(request: IncomingMessage): boolean {
  return request.headers.upgrade?.toLowerCase() === 'websocket'
}

/** Serves only `fetch` (e.g. the metrics app) over plain HTTP; for the dedicated metrics port. */
export function startPlainServer(fetch: Fetch, host: string, port: number): Promise<StartedServer> {
  return startServer(fetch, {
    host,
    port,
    tls: { enabled: false, cert_file: null, key_file: null, min_version: '1.2' },
    enable_http2: false,
    max_concurrent_streams: 100,
    read_timeout: 10_000,
    write_timeout: 10_000,
    idle_timeout: 5_000,
    max_header_bytes: 16_384,
    max_connections: 1000,
  } as ServerConfig)
}

/**
 * Tracks connections for the drain. Node's own `closeIdleConnections` exists only on `http.Server`;
 * HTTP/1.1 fallback connections on an HTTP/2 server need this bookkeeping anyway. Each HTTP/1
 * request costs one `request` listener call that notes its response (Node's public API; the socket's
 * own `_httpMessage` is private): the newest response on a connection, unfinished, is in flight.
 */
function trackConnections(server: ServerType, tls: boolean) {
  /** Every accepted TCP socket, destroyed at the deadline. */
  const raw = new Set<Socket>()
  /** HTTP/1.x connections (the TLS socket when TLS is on). */
  const http1 = new Set<Socket>()
  const sessions = new Set<Http2Session>()
  let draining = false

  const watch = (socket: Socket) => {
    if (http1.has(socket)) return
    http1.add(socket)
    socket.once('close', () => http1.delete(socket))
  }
  server.on('connection', (socket: Socket) => {
    raw.add(socket)
    socket.once('close', () => raw.delete(socket))
    if (!tls) watch(socket)
  })
  if (tls) server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol !== 'h2') watch(socket)
  })
  const responses = new WeakMap<Socket, ServerResponse>()
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.httpVersionMajor === 1) responses.set(request.socket, response)
  })
  const responseInFlight = (socket: Socket): ServerResponse | undefined => {
    const response = responses.get(socket)
    return response === undefined || response.writableFinished ? undefined : response
  }
  server.on('session', (session: Http2Session) => {
    // An HTTP/2 connection is not HTTP/1: its streams are drained by GOAWAY (session.close()).
    if (session.socket) http1.delete(session.socket as Socket)
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    if (draining) session.close()
  })

  /** Ends an HTTP/1 connection now if it is idle, else once its in-flight response is done. */
  const endWhenIdle = (socket: Socket) => {
    const inFlight = responseInFlight(socket)
    if (!inFlight) {
      socket.end()
      return
    }
    // Not yet started: tell the client this connection closes after the response.
    if (!inFlight.headersSent) inFlight.setHeader('connection', 'close')
    inFlight.once('close', () => socket.end())
  }

  /**
   * Every `timeoutMs / 4` (at most each second), closes HTTP/1 connections whose in-flight response
   * moved no byte either way for `timeoutMs`. Idle keep-alive connections are left to `keepAliveTimeout`.
   */
  function closeStalled(timeoutMs: number, clock: Clock): void {
    if (!(timeoutMs > 0)) return
    const seen = new WeakMap<Socket, { bytes: number; since: number }>()
    const sweep = clock.setInterval(() => {
      const now = clock.now()
      for (const socket of http1) {
        if (!responseInFlight(socket)) {
          seen.delete(socket)
          continue
        }
        const bytes = socket.bytesRead + socket.bytesWritten
        const last = seen.get(socket)
        if (last === undefined || last.bytes !== bytes) seen.set(socket, { bytes, since: now })
        else if (now - last.since >= timeoutMs) socket.destroy()
      }
    }, Math.min(1000, Math.max(25, Math.floor(timeoutMs / 4))), { unref: true })
    server.once('close', () => clock.clearInterval(sweep))
  }

  async function drain(deadlineMs: number): Promise<boolean> {
    draining = true
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const session of sessions) session.close()
    for (const socket of http1) endWhenIdle(socket)
    const drained = await settledWithin(closed, deadlineMs)
    if (!drained) {
      for (const session of sessions) session.destroy()
      for (const socket of raw) socket.destroy()
    }
    return drained
  }

  return { drain, closeStalled }
}

/** The app for a dedicated metrics port: the registry at `path` (the main app's handler), 404 for everything else. */
export function metricsOnlyApp(registry: Registry, path: string): Hono<AppEnv> {
  return new Hono<AppEnv>().get(path, metricsHandler(registry))
}
