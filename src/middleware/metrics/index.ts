import { prometheus } from '@hono/prometheus'
import type { Context, MiddlewareHandler } from 'hono'
import { Histogram, type Registry } from 'prom-client'
import type { AppEnv } from '../../env.ts'
import { send } from '../../http/response.ts'
import { onResponseEnd } from '../../observability/response-end.ts'
import { routeTemplate } from '../../observability/route.ts'

export interface MetricsOptions {
  /** The injected registry every metric is registered on and `/metrics` prints. */
  registry: Registry
  /** Histogram buckets (seconds) for `http_stream_duration_seconds`. Default 0.1 s … 10 min. */
  streamBuckets?: number[]
}

export interface Metrics {
  /** Counts and times every request; streams are also timed to their end. */
  middleware: MiddlewareHandler<AppEnv>
  /** Serves the registry in the Prometheus text format with the registry's content type. */
  handler: (c: Context<AppEnv>) => Promise<Response>
}

/**
 * `@hono/prometheus` on the injected registry: `http_requests_total` and
 * `http_request_duration_seconds` by method, status, ok and route. Its own `route` label is
 * `c.req.routePath` (the last handler that ran: `/*` for a 404, `/api/*` for a 401), so the label
 * is overridden through `customLabels` with the endpoint's template, `unmatched` when there is none.
 *
 * Its timer stops when `next()` returns, i.e. when a stream's headers are ready; so streaming
 * responses (SSE, chunked) are also observed in `http_stream_duration_seconds{method,route}` when the
 * stream ends or the client leaves.
 */
export function metrics(options: MetricsOptions): Metrics {
  const { registry } = options
  // @hono/prometheus asks for the label once per metric, back to back after next(): compute it once.
  let labelled: Context | undefined
  let label = ''
  const routeLabel = (c: Context) => {
    if (c !== labelled) {
      labelled = c
      label = routeTemplate(c, c.res.status)
    }
    return label
  }
  const { registerMetrics } = prometheus({
    registry,
    metricOptions: {
      requestsTotal: { customLabels: { route: routeLabel } },
      requestDuration: { customLabels: { route: routeLabel } },
    },
  })
  const streamDuration = new Histogram({
    name: 'http_stream_duration_seconds',
    help: 'Duration of streaming HTTP responses in seconds, from the request to the end of the stream',
    labelNames: ['method', 'route', 'aborted'],
    buckets: options.streamBuckets ?? [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  })

  return {
    middleware: async function metricsMiddleware(c, next) {
      const started = performance.now()
      await registerMetrics(c, next)
      // Other requests may have been labelled since; only reuse the label if it is still ours.
      const route = labelled === c ? label : routeTemplate(c, c.res.status)
      labelled = undefined
      onResponseEnd(c, (end) => {
        if (!end.streamed) return
        streamDuration.observe(
          { method: c.req.method, route, aborted: String(end.aborted) },
          (end.endedAt - started) / 1000,
        )
      })
    },
    handler: async function metricsHandler(c) {
      return send(c, await registry.metrics(), 200, registry.contentType)
    },
  }
}
