import type { Context } from 'hono'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { AppEnv } from '../../env.ts'
import { defineMiddleware, send, type StageMiddleware } from '../../pipeline/index.ts'

export interface MetricsOptions {
  /** The injected registry every metric is registered on and `/metrics` prints. */
  registry: Registry
  /** Histogram buckets (seconds) for `http_stream_duration_seconds`. Default 0.1 s … 10 min. */
  streamBuckets?: number[]
}

export interface Metrics {
  /** Counts and times every request; streams are also timed to their end. */
  middleware: StageMiddleware
  /** Serves the registry in the Prometheus text format with the registry's content type. */
  handler: (c: Context<AppEnv>) => Promise<Response>
}

/** The standard methods and each one's place in a series key; any other method is `OTHER`, 7. */
const METHOD_INDEX = new Map(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((method, index) => [method, index]))
const OTHER_INDEX = 7

interface RequestSeries {
  labels: Record<'method' | 'status' | 'ok' | 'route', string>
  /** Requests counted here and not yet handed to prom-client (at the next scrape). */
  count: number
  duration: { observe: (value: number) => void }
}

/** The standard HTTP metrics' labels and buckets, as `@hono/prometheus` defines them: its dashboards work. */
const LABELS = ['method', 'status', 'ok', 'route']
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/**
 * `http_requests_total` and `http_request_duration_seconds` by method, status, ok and route, named
 * and bucketed as `@hono/prometheus` defines them, on the injected registry. The route is the
 * endpoint's template (`unmatched` when there is none), never the raw path, and methods outside the
 * standard set count as `OTHER`, so a client cannot mint series.
 *
 * The request timer stops when the response exists, i.e. when a stream's headers are ready; so
 * streaming responses (SSE, chunked) are also observed in `http_stream_duration_seconds{method,route}`
 * when the stream ends or the client leaves.
 *
 * Recording goes through prom-client's public API: the duration through label children cached once
 * per (route, status, method) (the `@hono/prometheus` middleware builds and hashes a fresh label object
 * on every request), the request count as a plain number per series that the counter's `collect`
 * hands over when `/metrics` is scraped (a label child hashes and validates its labels on every `inc`).
 */
export function metrics(options: MetricsOptions): Metrics {
  const { registry } = options
  const children = new Map<string, Map<number, RequestSeries>>()
  new Counter({
    name: 'http_requests_total',
    help: 'Total number of HTTP requests',
    labelNames: LABELS,
    registers: [registry],
    collect() {
      for (const byRoute of children.values()) {
        for (const series of byRoute.values()) {
          if (series.count === 0) continue
          this.inc(series.labels, series.count)
          series.count = 0
        }
      }
    },
  })
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests in seconds',
    labelNames: LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  })
  const seriesFor = (method: string, methodIndex: number, status: number, route: string): RequestSeries => {
    let byRoute = children.get(route)
    if (byRoute === undefined) children.set(route, (byRoute = new Map()))
    const key = status * 8 + methodIndex
    let child = byRoute.get(key)
    if (child === undefined) {
      const labels = { method, status: String(status), ok: String(status >= 200 && status < 300), route }
      child = { labels, count: 0, duration: requestDuration.labels(labels) }
      byRoute.set(key, child)
    }
    return child
  }
  const streamDuration = new Histogram({
    name: 'http_stream_duration_seconds',
    help: 'Duration of streaming HTTP responses in seconds, from the request to the end of the stream',
    labelNames: ['method', 'route', 'aborted'],
    buckets: options.streamBuckets ?? [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  })
  const streamChildren = new Map<string, { observe: (value: number) => void }>()
  const streamSeries = (method: string, route: string, aborted: boolean) => {
    const key = `${method} ${aborted ? 1 : 0} ${route}`
    let child = streamChildren.get(key)
    if (child === undefined) streamChildren.set(key, (child = streamDuration.labels({ method, route, aborted: String(aborted) })))
    return child
  }

  const middleware = defineMiddleware({
    name: 'metrics',
    observer: true,
    after: (c, scope) => {
      const status = c.res.status
      const methodIndex = METHOD_INDEX.get(c.req.method) ?? OTHER_INDEX
      const method = methodIndex === OTHER_INDEX ? 'OTHER' : c.req.method
      const route = scope.template(c)
      const series = seriesFor(method, methodIndex, status, route)
      series.count++
      series.duration.observe((scope.responded() - scope.startedAt) / 1000)
      // A response built with the gathered headers has its whole body already: nothing streams.
      if (c.res === scope.sent) return
      scope.onEnd(function streamMetrics(end) {
        if (end.streamed) streamSeries(method, route, end.aborted).observe((end.endedAt - scope.startedAt) / 1000)
      })
    },
  })
  return { middleware, handler: metricsHandler(registry) }
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
