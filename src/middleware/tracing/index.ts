import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context as OtelContext,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api'
import type { Context } from 'hono'
import type { AppEnv } from '../../env.ts'
import { defineMiddleware, type StageMiddleware } from '../../pipeline/index.ts'

export interface TracingOptions {
  /** From `@opentelemetry/api` (`trace.getTracer(...)`); any SDK is registered by the entrypoint. */
  tracer: Tracer
}

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
}

/** https://www.w3.org/TR/trace-context/#traceparent-header-field-values */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/
const INVALID_TRACE_ID = '00000000000000000000000000000000'

/**
 * True when the tracer makes real spans. The API's no-op tracer returns spans with an all-zero trace
 * id for a root span; any SDK gives a random one even when its sampler drops the span. The probe is
 * never ended, so no exporter ever sees it.
 */
function isRecordingTracer(tracer: Tracer): boolean {
  return tracer.startSpan('tracing-probe', {}, ROOT_CONTEXT).spanContext().traceId !== INVALID_TRACE_ID
}

/**
 * One SERVER span per request, a child of the inbound W3C `traceparent`, active while downstream code
 * runs so outgoing calls propagate it; named `METHOD /route/template`, ERROR on 5xx, ended when the
 * response body ends (streams included). Puts the trace id on `c.var.traceId` for the access log.
 *
 * Without an SDK (the API's no-op tracer, decided on the first request) it only reads the trace id of
 * an inbound `traceparent`, so logs still correlate with the caller's trace.
 */
export function tracing(options: TracingOptions): StageMiddleware {
  const { tracer } = options
  let recording: boolean | undefined
  const spans = new WeakMap<Context<AppEnv>, { span: Span; parent: OtelContext }>()
  return defineMiddleware({
    name: 'tracing',
    observer: true,
    before: (c) => {
      recording ??= isRecordingTracer(tracer)
      if (!recording) {
        const traceparent = c.req.raw.headers.get('traceparent')
        const inbound = traceparent === null ? null : TRACEPARENT.exec(traceparent)
        if (inbound && inbound[1] !== INVALID_TRACE_ID) c.set('traceId', inbound[1])
        return
      }
      const method = c.req.method
      const parent = propagation.extract(ROOT_CONTEXT, c.req.raw.headers, headerGetter)
      const span = tracer.startSpan(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': method,
            // The path only: query strings may carry tokens.
            'url.path': c.req.path,
            'url.scheme': c.req.url.startsWith('https:') ? 'https' : 'http',
          },
        },
        parent,
      )
      c.set('traceId', span.spanContext().traceId)
      spans.set(c, { span, parent })
    },
    // The span is active while the rest of the chain runs, so outgoing calls propagate it.
    around: (c, _scope, next) => {
      if (!recording) return next()
      const active = spans.get(c)
      return active === undefined ? next() : context.with(trace.setSpan(active.parent, active.span), next)
    },
    after: (c, scope) => {
      if (!recording) return
      const active = spans.get(c)
      if (active === undefined) return
      const { span } = active
      const method = c.req.method
      const status = c.res.status
      const route = scope.template(c)
      span.updateName(`${method} ${route}`)
      span.setAttribute('http.route', route)
      span.setAttribute('http.response.status_code', status)
      if (c.error) span.recordException(c.error)
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
      scope.onEnd(function endSpan(end) {
        if (end.aborted) span.setAttribute('http.response.aborted', true)
        span.setAttribute('http.response.body.size', end.bytes)
        span.end()
      })
    },
  })
}
