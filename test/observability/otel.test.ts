import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { trace } from '@opentelemetry/api'
import { Hono } from 'hono'
import { memoryLogger } from '../helpers/app.ts'
import type { AppEnv } from '../../src/env.ts'
import { json } from '../../src/pipeline/index.ts'
import { tracing } from '../../src/middleware/tracing/index.ts'
import { startTracing } from '../../src/runtimes/otel.ts'

const PARENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'

interface Received {
  path: string
  contentType: string | undefined
  body: any
}

/** A collector that accepts OTLP/HTTP JSON exports and remembers them. */
function collector(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(text) })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({ server, url: `http://127.0.0.1:${port}`, received })
    })
  })
}

describe('startTracing', () => {
  let sink: Awaited<ReturnType<typeof collector>>
  before(async () => {
    sink = await collector()
  })
  after(() => {
    sink.server.closeAllConnections()
    sink.server.close()
  })

  it('returns undefined without OTEL_EXPORTER_OTLP_ENDPOINT, leaving tracing a no-op', async () => {
    const { logger } = memoryLogger()
    assert.equal(await startTracing({ logger, serviceName: 'svc', version: '1.0.0', env: {} }), undefined)
    assert.equal(
      await startTracing({
        logger,
        serviceName: 'svc',
        version: '1.0.0',
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SDK_DISABLED: 'true' },
      }),
      undefined,
    )
    const span = trace.getTracer('x').startSpan('noop')
    assert.equal(span.isRecording(), false)
    span.end()
  })

  it('exports the middleware spans to the collector when shutdown() flushes', async () => {
    const { logger } = memoryLogger()
    const tracing_ = await startTracing({
      logger,
      serviceName: 'assistant-server',
      version: '9.9.9',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${sink.url}/` },
    })
    assert.ok(tracing_, 'started')
    try {
      const app = new Hono<AppEnv>()
      // Like buildDeps: a tracer from the global API, built before or after the SDK starts.
      app.use(tracing({ tracer: trace.getTracer('assistant-server') }))
      app.get('/api/v1/conversations/:id', (c) => json(c, { id: c.req.param('id') }))
      const res = await app.request('/api/v1/conversations/7', {
        headers: { traceparent: `00-${PARENT_TRACE}-00f067aa0ba902b7-01` },
      })
      await res.text()
    } finally {
      await tracing_.shutdown()
    }
    assert.ok(sink.received.length >= 1, 'the collector received an export')
    const [first] = sink.received
    assert.equal(first.path, '/v1/traces')
    assert.match(first.contentType ?? '', /json/)
    const resourceSpans = sink.received.flatMap((r) => r.body.resourceSpans)
    const attributes = Object.fromEntries(
      resourceSpans[0].resource.attributes.map((a: any) => [a.key, a.value.stringValue]),
    )
    assert.equal(attributes['service.name'], 'assistant-server')
    assert.equal(attributes['service.version'], '9.9.9')
    const spans = resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans))
    const server = spans.find((s: any) => s.name === 'GET /api/v1/conversations/:id')
    assert.ok(server, JSON.stringify(spans.map((s: any) => s.name)))
    assert.equal(server.traceId, PARENT_TRACE)
    assert.equal(server.parentSpanId, '00f067aa0ba902b7')
    // Shutdown unregistered the provider: the API is a no-op again.
    assert.equal(trace.getTracer('x').startSpan('after').isRecording(), false)
  })
})
