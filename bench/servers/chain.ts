// Per-middleware ablation: app.ts's chain rebuilt with only the middleware named in BENCH_CHAIN
// (comma-separated, kept in app.ts order), in front of the same `GET /api/v1/me` handler.
// Keep the list and the options in step with src/app.ts.
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono, type MiddlewareHandler } from 'hono'
import { rateLimitOptions } from '../../src/app.ts'
import { loadConfig } from '../../src/config/index.ts'
import { buildDeps } from '../../src/deps.ts'
import type { AppEnv } from '../../src/env.ts'
import { json } from '../../src/http/response.ts'
import { accessLog } from '../../src/middleware/access-log/index.ts'
import { auth } from '../../src/middleware/auth/index.ts'
import { bodyLimit } from '../../src/middleware/body-limit/index.ts'
import { cors } from '../../src/middleware/cors/index.ts'
import { metrics } from '../../src/middleware/metrics/index.ts'
import { rateLimit } from '../../src/middleware/rate-limit/index.ts'
import { notFound, recovery } from '../../src/middleware/recovery/index.ts'
import { requestId } from '../../src/middleware/request-id/index.ts'
import { responseHeaders } from '../../src/middleware/response-headers/index.ts'
import { securityHeaders } from '../../src/middleware/security-headers/index.ts'
import { timeout } from '../../src/middleware/timeout/index.ts'
import { tracing } from '../../src/middleware/tracing/index.ts'
import { processLogger } from '../../src/runtimes/process.ts'

const config = await loadConfig({ env: process.env })
const server = config.server
const logger = processLogger(server.log_level)
const deps = buildDeps({ config, logger, peerAddress: (c) => getConnInfo(c).remote.address })
await deps.authenticator.verify(null)

/** In app.ts order; `/api/*` ones are mounted there. */
const CHAIN: [name: string, scope: string, make: () => MiddlewareHandler<AppEnv>][] = [
  ['responseHeaders', '*', () => responseHeaders()],
  ['requestId', '*', () => requestId()],
  ['accessLog', '*', () => accessLog({ logger, peerAddress: deps.peerAddress, trustedProxies: server.trusted_proxies })],
  ['metrics', '*', () => metrics({ registry: deps.metrics }).middleware],
  ['tracing', '*', () => tracing({ tracer: deps.tracer })],
  ['securityHeaders', '*', () => securityHeaders(server.security)],
  ['cors', '*', () => cors(server.cors)],
  ['rateLimit', '*', () => rateLimit(rateLimitOptions(deps))],
  ['bodyLimit', '/api/*', () => bodyLimit({ maxBytes: server.max_request_body_size })],
  ['timeout', '/api/*', () => timeout({ ms: server.request_timeout })],
  ['auth', '/api/*', () => auth({ authenticator: deps.authenticator })],
]

const wanted = new Set((process.env.BENCH_CHAIN ?? '').split(',').filter(Boolean))
const app = new Hono<AppEnv>()
for (const [name, scope, make] of CHAIN) if (wanted.has(name)) app.use(scope, make())
app.get('/api/v1/me', (c) => json(c, { id: c.var.user?.id ?? 'anonymous' }))
app.onError(recovery({ logger }))
app.notFound(notFound(app))
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: server.port })
// Exit normally on SIGINT so `node --cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0))
