import { prometheus } from '@hono/prometheus'
import type { Context, MiddlewareHandler } from 'hono'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { AppEnv } from '../../env.ts'
import { isSent } from '../../http/request-state.ts'
import { send } from '../../http/response.ts'
import { markStart, onResponseEnd, respondedAt, startedAt } from '../../observability/response-end.ts'
import { routeTemplate } from '../../observability/route.ts'
import { asMiddleware, type Stage } from '../pipeline/index.ts'
import { bindCounter, bindHistogram, type CounterSeries, type HistogramSeries } from './series.ts'

export interface MetricsOptions {
  /** The injected registry every metric is registered on and `/metrics` prints. */
  registry: Registry
  /** Histogram buckets (seconds) for `http_stream_duration_seconds`. Default 0.1 s … 10 min. */
  streamBuckets?: number[]
}

export interface Metrics {
  /** Counts and times every request; streams are also timed to their end. */
  stage: Stage
  /** The stage as a Hono middleware. */
  middleware: MiddlewareHandler<AppEnv>
  /** Serves the registry in the Prometheus text format with the registry's content type. */
  handler: (c: Context<AppEnv>) => Promise<Response>
}

/**
 * `http_requests_total` and `http_request_duration_seconds` by method, status, ok and route, as
 * `@hono/prometheus` defines them, on the injected registry. The route is the endpoint's template
 * (`unmatched` when there is none) — not `c.req.routePath`, which names the last handler that ran
 * (`/*` for a 404, `/api/*` for a 401) — and methods outside the standard set count as `OTHER`.
 *
 * The request timer stops when `next()` returns, i.e. when a stream's headers are ready; so streaming
 * responses (SSE, chunked) are also observed in `http_stream_duration_seconds{method,route}` when the
 * stream ends or the client leaves.
 */
/** The standard methods and each one's place in a series key; any other method is `OTHER`, 7. */
const METHOD_INDEX = new Map(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((method, index) => [method, index]))
const OTHER_INDEX = 7

export function metrics(options: MetricsOptions): Metrics {
  const { registry } = options
  // Only the definitions are used (see below); the `route` label is our template, not `c.req.routePath`.
  const routeLabel = (c: Context) => routeTemplate(c, c.res.status)
  prometheus({
    registry,
    metricOptions: {
      requestsTotal: { customLabels: { route: routeLabel } },
      requestDuration: { customLabels: { route: routeLabel } },
    },
  })
  // @hono/prometheus defines the standard metrics (names, help, buckets, labels) on our registry. We
  // record into them through series bound once per (method, status, route): its own middleware
  // builds and hashes fresh label objects on every request, about 6 µs on this machine, and even
  // prom-client's label children hash and validate on every call (see series.ts).
  const requestsTotal = registry.getSingleMetric('http_requests_total') as Counter
  const requestDuration = registry.getSingleMetric('http_request_duration_seconds') as Histogram
  // By route, then by status and method as one number: no key string to build and hash per request.
  const children = new Map<string, Map<number, { requests: CounterSeries; duration: HistogramSeries }>>()
  const record = (method: string, methodIndex: number, status: number, route: string, seconds: number) => {
    let byRoute = children.get(route)
    if (byRoute === undefined) children.set(route, (byRoute = new Map()))
    const key = status * 8 + methodIndex
    let child = byRoute.get(key)
    if (child === undefined) {
      const labels = { method, status: String(status), ok: String(status >= 200 && status < 300), route }
      child = { requests: bindCounter(requestsTotal, labels), duration: bindHistogram(requestDuration, labels) }
      byRoute.set(key, child)
    }
    child.requests.inc()
    child.duration.observe(seconds)
  }
  const streamDuration = new Histogram({
    name: 'http_stream_duration_seconds',
    help: 'Duration of streaming HTTP responses in seconds, from the request to the end of the stream',
    labelNames: ['method', 'route', 'aborted'],
    buckets: options.streamBuckets ?? [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  })
  // Bound as the request series are: by route, then method and `aborted` as one number.
  const streamChildren = new Map<string, Map<number, HistogramSeries>>()
  const recordStream = (method: string, methodIndex: number, route: string, aborted: boolean, seconds: number) => {
    let byRoute = streamChildren.get(route)
    if (byRoute === undefined) streamChildren.set(route, (byRoute = new Map()))
    const key = methodIndex * 2 + (aborted ? 1 : 0)
    let child = byRoute.get(key)
    if (child === undefined) byRoute.set(key, (child = bindHistogram(streamDuration, { method, route, aborted: String(aborted) })))
    child.observe(seconds)
  }

  const stage: Stage = {
    name: 'metrics',
    before: markStart,
    // Errors never reach here as throws: the pipeline (or Hono's compose) has made them responses.
    after: (c) => {
      const started = startedAt(c)
      const status = c.res.status
      // Methods outside the standard set share one label, so a client cannot mint series.
      const methodIndex = METHOD_INDEX.get(c.req.method) ?? OTHER_INDEX
      const method = methodIndex === OTHER_INDEX ? 'OTHER' : c.req.method
      const route = routeTemplate(c, status)
      record(method, methodIndex, status, route, (respondedAt(c) - started) / 1000)
      // A response `send()` built has its whole body already: nothing streams.
      if (isSent(c)) return
      onResponseEnd(c, (end) => {
        if (end.streamed) recordStream(method, methodIndex, route, end.aborted, (end.endedAt - started) / 1000)
      })
    },
  }
  return { stage, middleware: asMiddleware(stage), handler: metricsHandler(registry) }
}

/**
 * Serves the registry in the Prometheus text format with the registry's content type. On its own
 * for the dedicated metrics port, where calling `metrics()` again would register the metrics twice.
 */
export function metricsHandler(registry: Registry) {
  return async function metricsHandler(c: Context<AppEnv>): Promise<Response> {
    return send(c, await registry.metrics(), 200, registry.contentType)
  }
}
