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
import { onlyUnder, pipeline, type Stage } from './middleware/pipeline/index.ts'
import { rateLimitStage, type RateLimitOptions } from './middleware/rate-limit/index.ts'
import { notFound, recovery } from './middleware/recovery/index.ts'
import { requestIdStage } from './middleware/request-id/index.ts'
import { responseHeadersStage } from './middleware/response-headers/index.ts'
import { securityHeadersStage } from './middleware/security-headers/index.ts'
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
    clock: deps.clock,
    client: { capacity: server.rate_limit.burst, refillPerSecond: server.rate_limit.requests_per_minute / 60 },
    global: { capacity: server.rate_limit.global_burst, refillPerSecond: server.rate_limit.global_requests_per_second },
    authenticator: deps.authenticator,
    peerAddress: deps.peerAddress,
    trustedProxies: server.trusted_proxies,
    exemptPaths: [...PUBLIC_PATHS, server.metrics.path],
  }
}

/** Builds the whole runtime-neutral app from injected dependencies. */
export function createApp(deps: AppDeps) {
  const { config, logger } = deps
  const server = config.server
  const app = new Hono<AppEnv>()

  // The seed's chain, in its order, run as the stages of one middleware (see `pipeline`). Recovery
  // is the pipeline's and the app's `onError`, plus `notFound`: every throw and rejection ends there.
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
  app.use(pipeline(stages.filter((stage) => stage !== false), { onError }))

  app.route('/', healthRoutes({ checks: deps.health, lifecycle: deps.lifecycle, clock: deps.clock, version: deps.version, service: 'assistant-server' }))
  // With a dedicated metrics port the entrypoint serves /metrics there instead.
  if (server.metrics.enabled && server.metrics.port === 0) app.get(server.metrics.path, prometheus.handler)

  const api = new Hono<AppEnv>()
    .route('/', meRoutes())
    .route('/', conversationRoutes({ store: deps.stores.conversations }))
    .route('/', memoryRoutes({ store: deps.stores.memory }))
    .route('/', toolRoutes(deps.tools))
    .route('/', chatRoutesFromConfig(deps.chat, config))
  app.route('/api/v1', api)

  if (deps.upgradeWebSocket && server.websocket.enabled) {
    app.route(
      '/',
      wsRoutes({
        upgradeWebSocket: deps.upgradeWebSocket,
        hub: deps.hub,
        authenticator: deps.authenticator,
        allowedOrigins: server.cors.allowed_origins,
      }),
    )
  }

  if (deps.serveStatic) app.use('/*', deps.serveStatic)

  app.onError(onError)
  app.notFound(notFound(app))
  return app
}

export type App = ReturnType<typeof createApp>
