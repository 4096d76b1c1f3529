// Per-middleware ablation: app.ts's pipeline rebuilt with only the stages named in BENCH_CHAIN
// (comma-separated, kept in app.ts order), in front of the same `GET /api/v1/me` handler.
// Keep the list and the options in step with src/app.ts.
import { serve } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono } from 'hono'
import { rateLimitOptions } from '../../src/app.ts'
import { loadConfig } from '../../src/config/index.ts'
import { buildDeps } from '../../src/deps.ts'
import type { AppEnv } from '../../src/env.ts'
import { json } from '../../src/http/response.ts'
import { accessLogStage } from '../../src/middleware/access-log/index.ts'
import { authStage } from '../../src/middleware/auth/index.ts'
import { bodyLimitStage } from '../../src/middleware/body-limit/index.ts'
import { corsStage } from '../../src/middleware/cors/index.ts'
import { metrics } from '../../src/middleware/metrics/index.ts'
import { endpointPipeline, onlyUnder, type Stage } from '../../src/middleware/pipeline/index.ts'
import { rateLimitStage } from '../../src/middleware/rate-limit/index.ts'
import { notFound, recovery } from '../../src/middleware/recovery/index.ts'
import { requestIdStage } from '../../src/middleware/request-id/index.ts'
import { responseHeadersStage } from '../../src/middleware/response-headers/index.ts'
import { securityHeadersStage } from '../../src/middleware/security-headers/index.ts'
import { timeoutStage } from '../../src/middleware/timeout/index.ts'
import { tracingStage } from '../../src/middleware/tracing/index.ts'
import { processLogger } from '../../src/runtimes/process.ts'

const config = await loadConfig({ env: process.env })
const server = config.server
const logger = processLogger(server.log_level)
const deps = buildDeps({ config, logger, peerAddress: (c) => getConnInfo(c).remote.address })
await deps.authenticator.verify(null)

/** In app.ts order; the `/api` ones are limited to it there too. */
const api = (stage: Stage) => onlyUnder('/api', stage)
const CHAIN: [name: string, make: () => Stage][] = [
  ['responseHeaders', () => responseHeadersStage()],
  ['requestId', () => requestIdStage()],
  ['accessLog', () => accessLogStage({ logger, peerAddress: deps.peerAddress, trustedProxies: server.trusted_proxies })],
  ['metrics', () => metrics({ registry: deps.metrics }).stage],
  ['tracing', () => tracingStage({ tracer: deps.tracer })],
  ['securityHeaders', () => securityHeadersStage(server.security)],
  ['cors', () => corsStage(server.cors)],
  ['rateLimit', () => rateLimitStage(rateLimitOptions(deps))],
  ['bodyLimit', () => api(bodyLimitStage({ maxBytes: server.max_request_body_size }))],
  ['timeout', () => api(timeoutStage({ ms: server.request_timeout }))],
  ['auth', () => api(authStage({ authenticator: deps.authenticator }))],
]

const wanted = new Set((process.env.BENCH_CHAIN ?? '').split(',').filter(Boolean))
const app = new Hono<AppEnv>()
const onError = recovery({ logger })
const chain = endpointPipeline(
  CHAIN.filter(([name]) => wanted.has(name)).map(([, make]) => make()),
  { onError },
)
chain.mount(app, '/', new Hono<AppEnv>().get('/api/v1/me', (c) => json(c, { id: c.var.user?.id ?? 'anonymous' })))
app.onError(onError)
app.notFound(chain.notFound(notFound(app)))
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: server.port })
// Exit normally on SIGINT so `node --cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0))
