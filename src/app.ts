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
import { OPENAI_ERRORS, openAIRoutesFromConfig } from './features/openai-compat/index.ts'
import { accessLog } from './middleware/access-log/index.ts'
import { auth } from './middleware/auth/index.ts'
import { bodyLimit } from './middleware/body-limit/index.ts'
import { cors } from './middleware/cors/index.ts'
import { metrics } from './middleware/metrics/index.ts'
import { rateLimit, type RateLimitOptions } from './middleware/rate-limit/index.ts'
import { notFound, recovery } from './middleware/recovery/index.ts'
import { requestId } from './middleware/request-id/index.ts'
import { securityHeaders, withDocumentHeaders } from './middleware/security-headers/index.ts'
import { timeout } from './middleware/timeout/index.ts'
import { tracing } from './middleware/tracing/index.ts'
import { createPipeline, placed, throttledReport, type ChainEntry } from './pipeline/index.ts'

/** Probes and metrics: never rate limited, never authenticated. */
export const PUBLIC_PATHS = ['/health', '/ready', '/live', '/metrics']

/** Routes that stream; they carry their own idle and total budgets instead of the request timeout. */
const STREAMING = /\/(stream|events)$|^\/ws$/

/** A path with a segment that starts with a dot, raw or percent-encoded. */
const DOTFILE = /\/(\.|%2e)/i

/** Chat routes take the larger body limit: an AI SDK or OpenAI request carries the whole conversation. */
const CHAT = (path: string) => path === '/api/v1/chat' || path.startsWith('/api/v1/chat/') || path === '/v1/chat/completions'

/** The OpenAI-compatible API, where clients parse OpenAI's error shape instead of problem+json. */
const OPENAI = '/v1'

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

/**
 * The app as the runtimes see it: Hono's `fetch` and `request`, and `route()`, which mounts more
 * routes through the whole chain (authentication included under `/api`). The Hono instance itself
 * stays inside, so nothing can be added beside the chain.
 */
export interface App {
  fetch: Hono<AppEnv>['fetch']
  request: Hono<AppEnv>['request']
  /** Mounts `router` under `base` through the chain; call before serving. */
  route(base: string, router: Hono<AppEnv, any, any>): App
}

/** Builds the whole runtime-neutral app from injected dependencies. */
export function createApp(deps: AppDeps): App {
  const { config, logger } = deps
  const server = config.server
  const hono = new Hono<AppEnv>()

  const onError = recovery({ logger })
  const report = throttledReport(
    (stage, error, suppressed) => logger.error({ err: error, stage, suppressed }, `${stage} failed; the response went out unchanged`),
    () => deps.clock.now(),
  )
  const prometheus = metrics({ registry: deps.metrics })
  // Authentication, body limits and the request timeout guard our API and the OpenAI-compatible one.
  const underApi = { under: ['/api', OPENAI] }
  // The seed's chain, in its order. Recovery is the pipeline's and the app's `onError` plus
  // `notFound`: every throw and rejection ends there.
  const chain: (ChainEntry | false)[] = [
    requestId(),
    accessLog({ logger, peerAddress: deps.peerAddress, trustedProxies: server.trusted_proxies }),
    server.metrics.enabled && prometheus.middleware,
    tracing({ tracer: deps.tracer }),
    securityHeaders(server.security, { peerAddress: deps.peerAddress, trustedProxies: server.trusted_proxies }),
    server.cors.enabled && cors(server.cors),
    server.rate_limit.enabled && rateLimit(rateLimitOptions(deps)),
    // One limit per kind of route, decided when each endpoint is mounted: JSON needs kilobytes.
    placed(bodyLimit({ maxBytes: server.max_request_body_size, clock: deps.clock }), { ...underApi, only: CHAT }),
    placed(bodyLimit({ maxBytes: Math.min(server.max_json_body_size, server.max_request_body_size), clock: deps.clock }), { ...underApi, except: CHAT }),
    placed(timeout({ ms: server.request_timeout, clock: deps.clock }), { ...underApi, except: (path) => STREAMING.test(path) }),
    placed(auth({ authenticator: deps.authenticator }), underApi),
  ]
  const pipeline = createPipeline(
    chain.filter((entry) => entry !== false),
    { onError, report, formats: [{ placement: { under: OPENAI }, format: OPENAI_ERRORS }] },
  )

  const app: App = {
    fetch: hono.fetch,
    request: hono.request,
    route(base, router) {
      pipeline.mount(hono, base, router)
      return app
    },
  }

  app.route('/', healthRoutes({ checks: deps.health, lifecycle: deps.lifecycle, clock: deps.clock, version: deps.version, service: 'assistant-server' }))
  // With a dedicated metrics port the entrypoint serves /metrics there instead.
  if (server.metrics.enabled && server.metrics.port === 0) app.route('/', new Hono<AppEnv>().get(server.metrics.path, prometheus.handler))

  const api = new Hono<AppEnv>()
    .route('/', meRoutes())
    .route('/', conversationRoutes({ store: deps.stores.conversations }))
    .route('/', memoryRoutes({ store: deps.stores.memory }))
    .route('/', toolRoutes(deps.tools))
    .route('/', chatRoutesFromConfig(deps.chat, config, { clock: deps.clock }))
  app.route('/api/v1', api)
  app.route(
    OPENAI,
    openAIRoutesFromConfig({
      config,
      provider: deps.provider,
      tools: deps.tools,
      conversations: deps.stores.conversations,
      memory: deps.stores.memory,
      clock: deps.clock,
      // The same per-user running cap and start budget as every other chat transport.
      admit: (userId) => deps.chat.admit(userId),
    }),
  )

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

  // Static files answer what no endpoint matched (a catch-all `app.use('/*')` would join every
  // request's handler list); what they do not have is a 404, or a 405 for a known path.
  const unmatched = notFound(hono)
  // Files get the page's security headers instead of the API's.
  const serveStatic = deps.serveStatic && withDocumentHeaders(server.security, deps.serveStatic)
  hono.onError(onError)
  hono.notFound(
    pipeline.notFound(
      serveStatic
        ? (c) =>
            // Dotfiles (`/.env`, `/.git/config`) are never published, whatever the folder holds.
            DOTFILE.test(c.req.path)
              ? unmatched(c)
              : serveStatic(c, async () => {
                  c.res = await unmatched(c)
                }).then((res) => res ?? c.res)
        : unmatched,
    ),
  )
  return app
}
