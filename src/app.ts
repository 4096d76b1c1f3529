import { Hono } from 'hono'
import type { AppDeps } from './deps.ts'
import type { AppEnv } from './env.ts'
import { healthRoutes } from './features/health/index.ts'
import { meRoutes } from './features/me/index.ts'
import { conversationRoutes } from './features/conversations/index.ts'
import { memoryRoutes } from './features/memory/index.ts'
import { toolRoutes } from './features/tools/index.ts'
import { chatRoutesFromConfig } from './features/chat/index.ts'
import { wsRoutes } from './features/ws/index.ts'
import { accessLogStage } from './middleware/access-log/index.ts'
import { authStage } from './middleware/auth/index.ts'
import { bodyLimitStage } from './middleware/body-limit/index.ts'
import { corsStage } from './middleware/cors/index.ts'
import { metrics } from './middleware/metrics/index.ts'
import { endpointPipeline, onlyUnder, type Stage } from './middleware/pipeline/index.ts'
import { rateLimitStage, type RateLimitOptions } from './middleware/rate-limit/index.ts'
import { notFound, recovery } from './middleware/recovery/index.ts'
import { requestIdStage } from './middleware/request-id/index.ts'
import { responseHeadersStage } from './middleware/response-headers/index.ts'
import { securityHeadersStage, withDocumentHeaders } from './middleware/security-headers/index.ts'
import { timeoutStage } from './middleware/timeout/index.ts'
import { tracingStage } from './middleware/tracing/index.ts'

/** Probes and metrics: never rate limited, never authenticated. */
export const PUBLIC_PATHS = ['/health', '/ready', '/live', '/metrics']

/** Routes that stream; they carry their own idle and total budgets instead of the request timeout. */
const STREAMING = /\/(stream|events)$|^\/ws$/

/** The limiter's settings from config: per-client bucket (burst, per-minute refill) plus the global one. */
export function rateLimitOptions(deps: AppDeps): RateLimitOptions {
  const server = deps.config.server
  return {
    store: deps.rateLimitStore,
    client: { capacity: server.rate_limit.burst, refillPerSecond: server.rate_limit.requests_per_minute / 60 },
    global: { capacity: server.rate_limit.global_burst, refillPerSecond: server.rate_limit.global_requests_per_second },
    authenticator: deps.authenticator,
    peerAddress: deps.peerAddress,
    trustedProxies: server.trusted_proxies,
    exemptPaths: [...PUBLIC_PATHS, server.metrics.path],
  }
}

export interface AppOptions {
  /** More routes, mounted at `/` through the same chain (routes added to the returned app skip it). */
  routes?: Hono<AppEnv, any, any>
}

/** Builds the whole runtime-neutral app from injected dependencies. */
export function createApp(deps: AppDeps, options: AppOptions = {}) {
  const { config, logger } = deps
  const server = config.server
  const app = new Hono<AppEnv>()

  // The seed's chain, in its order, run as the stages of one pipeline around every endpoint (see
  // `endpointPipeline`). Recovery is the pipeline's and the app's `onError`, plus `notFound`: every
  // throw and rejection ends there.
  const onError = recovery({ logger })
  const prometheus = metrics({ registry: deps.metrics })
  const underApi = (stage: Stage): Stage => onlyUnder('/api', stage)
  const stages: (Stage | false)[] = [
    responseHeadersStage(),
    requestIdStage(),
    accessLogStage({ logger, peerAddress: deps.peerAddress, trustedProxies: server.trusted_proxies }),
    server.metrics.enabled && prometheus.stage,
    tracingStage({ tracer: deps.tracer }),
    securityHeadersStage(server.security),
    server.cors.enabled && corsStage(server.cors),
    server.rate_limit.enabled && rateLimitStage(rateLimitOptions(deps)),
    underApi(bodyLimitStage({ maxBytes: server.max_request_body_size })),
    underApi(timeoutStage({ ms: server.request_timeout, exempt: (path) => STREAMING.test(path) })),
    underApi(authStage({ authenticator: deps.authenticator })),
  ]
  const chain = endpointPipeline(
    stages.filter((stage) => stage !== false),
    { onError },
  )

  // Routers are mounted through the pipeline, not `app.route()`; no `app.use()` anywhere, so each
  // request matches its endpoint alone and Hono calls it directly. A route added to the returned app
  // would skip the whole chain, authentication included: add routes here or through `options.routes`.
  chain.mount(app, '/', healthRoutes({ checks: deps.health, lifecycle: deps.lifecycle, clock: deps.clock, version: deps.version, service: 'assistant-server' }))
  // With a dedicated metrics port the entrypoint serves /metrics there instead.
  if (server.metrics.enabled && server.metrics.port === 0) app.get(server.metrics.path, chain.wrap(prometheus.handler))

  const api = new Hono<AppEnv>()
    .route('/', meRoutes())
    .route('/', conversationRoutes({ store: deps.stores.conversations }))
    .route('/', memoryRoutes({ store: deps.stores.memory }))
    .route('/', toolRoutes(deps.tools))
    .route('/', chatRoutesFromConfig(deps.chat, config, { clock: deps.clock }))
  chain.mount(app, '/api/v1', api)

  if (deps.upgradeWebSocket && server.websocket.enabled) {
    chain.mount(
      app,
      '/',
      wsRoutes({
        upgradeWebSocket: deps.upgradeWebSocket,
        hub: deps.hub,
        authenticator: deps.authenticator,
        allowedOrigins: server.cors.allowed_origins,
      }),
    )
  }

  if (options.routes) chain.mount(app, '/', options.routes)

  // Static files answer what no endpoint matched (a catch-all `app.use('/*')` would join every
  // request's handler list); what they do not have is a 404, or a 405 for a known path.
  const unmatched = notFound(app)
  // Files get the page's security headers instead of the API's.
  const serveStatic = deps.serveStatic && withDocumentHeaders(server.security, deps.serveStatic)
  app.onError(onError)
  app.notFound(
    chain.notFound(
      serveStatic
        ? (c) =>
            serveStatic(c, async () => {
              c.res = await unmatched(c)
            }).then((res) => res ?? c.res)
        : unmatched,
    ),
  )
  return app
}

export type App = ReturnType<typeof createApp>
