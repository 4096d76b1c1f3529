import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { memoryLogger } from '../../../test/helpers/app.ts'
import type { AppEnv } from '../../env.ts'
import { json } from '../../pipeline/index.ts'
import { notFound, recovery } from '../recovery/index.ts'
import { tracing } from './index.ts'

const PARENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT_SPAN = '00f067aa0ba902b7'
const TRACEPARENT = `00-${PARENT_TRACE}-${PARENT_SPAN}-01`

function tinyApp(tracer = trace.getTracer('test')) {
  const { logger } = memoryLogger()
  const seen: { traceId?: string; activeSpanId?: string; injected?: string } = {}
  const app = new Hono<AppEnv>()
  app.use(tracing({ tracer }))
  app.get('/api/v1/conversations/:id', async (c) => {
    // Downstream code sees the server span as active and can propagate it.
    await new Promise((resolve) => setTimeout(resolve, 1))
    seen.traceId = c.get('traceId')
    seen.activeSpanId = trace.getActiveSpan()?.spanContext().spanId
    const carrier: Record<string, string> = {}
    propagation.inject(context.active(), carrier)
    seen.injected = carrier.traceparent
    return json(c, { id: c.req.param('id') })
  })
  app.get('/api/v1/boom', () => {
    throw new Error('kaboom')
  })
  app.get('/api/v1/stream', (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; i < 3; i++) await stream.writeSSE({ data: String(i) })
    }),
  )
  app.onError(recovery({ logger }))
  app.notFound(notFound(app))
  return { app, seen }
}

describe('tracing middleware with an SDK', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  // The tracer is injected, not global; register() only installs the context manager and propagator.
  const tracer = provider.getTracer('test')

  before(() => provider.register({ propagator: new W3CTraceContextPropagator() }))
  after(async () => {
    await provider.shutdown()
    trace.disable()
    context.disable()
    propagation.disable()
  })

  it('makes a SERVER span named after the route, child of the inbound traceparent, active downstream', async () => {
    exporter.reset()
    const { app, seen } = tinyApp(tracer)
    const res = await app.request('/api/v1/conversations/abc?token=secret', { headers: { traceparent: TRACEPARENT } })
    assert.equal(res.status, 200)
    await res.text()
    const [span] = exporter.getFinishedSpans()
    assert.ok(span, 'one span exported')
    assert.equal(span.name, 'GET /api/v1/conversations/:id')
    assert.equal(span.kind, SpanKind.SERVER)
    assert.equal(span.spanContext().traceId, PARENT_TRACE)
    assert.equal(span.parentSpanContext?.spanId, PARENT_SPAN)
    assert.equal(span.attributes['http.route'], '/api/v1/conversations/:id')
    assert.equal(span.attributes['http.request.method'], 'GET')
    assert.equal(span.attributes['http.response.status_code'], 200)
    assert.equal(span.attributes['url.path'], '/api/v1/conversations/abc')
    assert.ok(!JSON.stringify(span.attributes).includes('secret'), 'query values never recorded')
    assert.equal(span.status.code, SpanStatusCode.UNSET)
    assert.equal(seen.traceId, PARENT_TRACE)
    assert.equal(seen.activeSpanId, span.spanContext().spanId)
    assert.equal(seen.injected, `00-${PARENT_TRACE}-${span.spanContext().spanId}-01`)
  })

  it('starts a new trace without traceparent', async () => {
    exporter.reset()
    const { app, seen } = tinyApp(tracer)
    await (await app.request('/api/v1/conversations/1')).text()
    const [span] = exporter.getFinishedSpans()
    assert.equal(span.parentSpanContext, undefined)
    assert.match(span.spanContext().traceId, /^[0-9a-f]{32}$/)
    assert.notEqual(span.spanContext().traceId, PARENT_TRACE)
    assert.equal(seen.traceId, span.spanContext().traceId)
  })

  it('marks 5xx as ERROR with the exception, and 4xx unmatched routes by a fixed name', async () => {
    exporter.reset()
    const { app } = tinyApp(tracer)
    const boomRes = await app.request('/api/v1/boom')
    assert.equal(boomRes.status, 500)
    await boomRes.text()
    const missingRes = await app.request('/api/v1/nothing/here')
    assert.equal(missingRes.status, 404)
    await missingRes.text()
    const [boom, missing] = exporter.getFinishedSpans()
    assert.equal(boom.name, 'GET /api/v1/boom')
    assert.equal(boom.status.code, SpanStatusCode.ERROR)
    assert.equal(boom.events[0]?.name, 'exception')
    assert.equal(missing.name, 'GET unmatched')
    assert.equal(missing.attributes['http.response.status_code'], 404)
    assert.equal(missing.status.code, SpanStatusCode.UNSET)
  })

  it('ends a streaming span when the stream ends, not at the headers', async () => {
    exporter.reset()
    const { app } = tinyApp(tracer)
    const res = await app.request('/api/v1/stream')
    assert.equal(exporter.getFinishedSpans().length, 0, 'span still open while streaming')
    await res.text()
    const [span] = exporter.getFinishedSpans()
    assert.equal(span.name, 'GET /api/v1/stream')
    assert.ok((span.attributes['http.response.body.size'] as number) > 0)
  })
})

describe('tracing middleware without an SDK', () => {
  it('is a pass-through that still exposes an inbound trace id for the logs', async () => {
    const { app, seen } = tinyApp()
    await (await app.request('/api/v1/conversations/1', { headers: { traceparent: TRACEPARENT } })).text()
    assert.equal(seen.traceId, PARENT_TRACE)
    assert.equal(seen.activeSpanId, undefined)
  })

  it('ignores a malformed or all-zero traceparent', async () => {
    const { app, seen } = tinyApp()
    await (await app.request('/api/v1/conversations/1', { headers: { traceparent: 'garbage' } })).text()
    assert.equal(seen.traceId, undefined)
    await (
      await app.request('/api/v1/conversations/1', {
        headers: { traceparent: `00-${'0'.repeat(32)}-${PARENT_SPAN}-01` },
      })
    ).text()
    assert.equal(seen.traceId, undefined)
  })
})
