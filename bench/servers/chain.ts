// Per-middleware ablation: app.ts's chain rebuilt with only the middlewares named in BENCH_CHAIN
// (comma-separated, kept in app.ts order), in front of the same `GET /api/v1/me` handler.
// Keep the list and the options in step with src/app.ts.
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono } from 'hono'
import { rateLimitOptions } from '../../src/app.ts'
import { loadConfig } from '../../src/config/index.ts'
import { buildDeps } from '../../src/deps.ts'
import type { AppEnv } from '../../src/env.ts'
import { accessLog } from '../../src/middleware/access-log/index.ts'
import { auth } from '../../src/middleware/auth/index.ts'
import { bodyLimit } from '../../src/middleware/body-limit/index.ts'
import { cors } from '../../src/middleware/cors/index.ts'
import { metrics } from '../../src/middleware/metrics/index.ts'
import { rateLimit } from '../../src/middleware/rate-limit/index.ts'
import { notFound, recovery } from '../../src/middleware/recovery/index.ts'
import { requestId } from '../../src/middleware/request-id/index.ts'
import { securityHeaders } from '../../src/middleware/security-headers/index.ts'
import { timeout } from '../../src/middleware/timeout/index.ts'
import { tracing } from '../../src/middleware/tracing/index.ts'
import { createPipeline, json, placed, throttledReport, type ChainEntry } from '../../src/pipeline/index.ts'
import { processLogger } from '../../src/runtimes/process.ts'

const config = await loadConfig({ env: process.env })
const server = config.server
const logger = processLogger(server.log_level)
const deps = buildDeps({ config, logger, peerAddress: (c) => getConnInfo(c).remote.address })
await deps.authenticator.verify(null)

/** In app.ts order; the `/api` ones are placed under it there too. */
const api = { under: '/api' }
const CHAIN: [name: string, make: () => ChainEntry][] = [
  ['requestId', () => requestId()],
  ['accessLog', () => accessLog({ logger, peerAddress: deps.peerAddress, trustedProxies: server.trusted_proxies })],
  ['metrics', () => metrics({ registry: deps.metrics }).middleware],
  ['tracing', () => tracing({ tracer: deps.tracer })],
  ['securityHeaders', () => securityHeaders(server.security, { peerAddress: deps.peerAddress, trustedProxies: server.trusted_proxies })],
  ['cors', () => cors(server.cors)],
  ['rateLimit', () => rateLimit(rateLimitOptions(deps))],
  ['bodyLimit', () => placed(bodyLimit({ maxBytes: server.max_request_body_size }), api)],
  ['timeout', () => placed(timeout({ ms: server.request_timeout }), api)],
  ['auth', () => placed(auth({ authenticator: deps.authenticator }), api)],
]

const wanted = new Set((process.env.BENCH_CHAIN ?? '').split(',').filter(Boolean))
const app = new Hono<AppEnv>()
const onError = recovery({ logger })
const report = throttledReport((stage, error) => logger.error({ err: error, stage }, 'observer failed'))
const chain = createPipeline(
  CHAIN.filter(([name]) => wanted.has(name)).map(([, make]) => make()),
  { onError, report },
)
chain.mount(app, '/', new Hono<AppEnv>().get('/api/v1/me', (c) => json(c, { id: c.var.user?.id ?? 'anonymous' })))
app.onError(onError)
app.notFound(chain.notFound(notFound(app)))
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: server.port })
// Exit normally on SIGINT so `node --cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0))
