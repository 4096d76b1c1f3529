import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { streamSSE } from 'hono/streaming'
import pino from 'pino'
import { memoryLogger } from '../../../test/helpers/app.ts'
import { appWith, FORMS, type Form } from '../../../test/helpers/forms.ts'
import { defineMiddleware, json, send } from '../../pipeline/index.ts'
import { notFound, recovery } from '../recovery/index.ts'
import { requestId } from '../request-id/index.ts'
import { accessLog, type AccessLogOptions } from './index.ts'

const SECRET = 'secret123-bearer-value-xyz'

/** Stands in for the tracing middleware, which names the trace before any handler runs. */
const traced = defineMiddleware({ name: 'traced', before: (c) => c.set('traceId', 'trace-abc') })

function makeTinyApp(form: Form, options: Partial<AccessLogOptions> & { level?: string } = {}) {
  const { logger, lines } = memoryLogger(options.level)
  const recorded = logger
  // On its own with app.use(), the child logger carries the ids known when the access log runs:
  // tracing goes first there. In the app's pipeline every `before` runs ahead of the child logger.
  const chain = [requestId(), accessLog({ logger: options.logger ?? recorded, peerAddress: () => '10.0.0.7', ...options }), traced]
  const app = appWith(form, form === 'app.use' ? [requestId(), traced, chain[1]] : chain, (app) => define(app), { onError: recovery({ logger: recorded }) })
  if (form === 'app.use') app.notFound(notFound(app))
  return { app, lines }
}

function define(app: import('hono').Hono<import('../../env.ts').AppEnv>) {
  app.get('/api/v1/conversations/:id', (c) => json(c, { id: c.req.param('id'), name: 'é' }))
  app.get('/api/v1/logs', (c) => {
    c.get('log')().info({ step: 1 }, 'inside handler')
    return json(c, { ok: true })
  })
  app.get('/api/v1/boom', () => {
    throw new Error('kaboom')
  })
  app.get('/api/v1/stream', (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; i < 3; i++) {
        await stream.writeSSE({ data: `chunk-${i}` })
        await stream.sleep(5)
      }
    }),
  )
  app.get('/sized', (c) => send(c, 'héllo', 200, 'text/plain'))
  app.get('/plain', (c) => c.text('plain text'))
}

const accessLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === 'request completed')

for (const form of FORMS) describe(`access log (${form})`, () => {
  const tinyApp = (options: Partial<AccessLogOptions> & { level?: string } = {}) => makeTinyApp(form, options)

  it('logs a plain c.text() answer with its size', async () => {
    const { app, lines } = tinyApp()
    const res = await app.request('/plain')
    assert.equal(await res.text(), 'plain text')
    const [line] = accessLines(lines)
    assert.equal(line.status, 200)
    assert.equal(line.bytes, 10)
    assert.equal(line.route, '/plain')
  })
  it('writes one line with every field, route template and no query string', async () => {
    const { app, lines } = tinyApp()
    const res = await app.request('/api/v1/conversations/42?limit=5', {
      headers: { 'user-agent': 'test-agent/1.0', 'x-request-id': 'req-1' },
    })
    const body = await res.text()
    const [line] = accessLines(lines)
    assert.equal(accessLines(lines).length, 1)
    assert.equal(line.level, 30)
    assert.equal(typeof line.time, 'number')
    assert.equal(line.method, 'GET')
    assert.equal(line.route, '/api/v1/conversations/:id')
    assert.equal(line.path, '/api/v1/conversations/42')
    assert.equal(line.status, 200)
    assert.equal(line.bytes, new TextEncoder().encode(body).byteLength)
    assert.equal(typeof line.duration_ms, 'number')
    assert.ok((line.duration_ms as number) >= 0)
    assert.equal(line.ip, '10.0.0.7')
    assert.equal(line.user_agent, 'test-agent/1.0')
    assert.equal(line.request_id, 'req-1')
    assert.equal(line.trace_id, 'trace-abc')
  })

  it('leaves out ip and user_agent when they are not known, rather than writing null', async () => {
    const { app, lines } = tinyApp({ peerAddress: () => undefined })
    await (await app.request('/api/v1/conversations/7')).text()
    const [line] = accessLines(lines)
    assert.equal(line.status, 200)
    assert.equal('ip' in line, false)
    assert.equal('user_agent' in line, false)
    assert.equal(typeof line.request_id, 'string')
  })

  it('never logs Authorization, API keys or token query values', async () => {
    const { app, lines } = tinyApp({ level: 'trace' })
    for (const path of [`/api/v1/conversations/1?token=${SECRET}`, `/nope?token=${SECRET}&api_key=${SECRET}`, '/api/v1/logs', '/api/v1/boom']) {
      const res = await app.request(path, {
        headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET, cookie: `session=${SECRET}` },
      })
      await res.text()
    }
    const output = JSON.stringify(lines)
    assert.equal(accessLines(lines).length, 4)
    assert.ok(!output.includes(SECRET), output)
    assert.ok(!output.includes('token='))
  })

  it('levels by status: 5xx error, 4xx warn, else info; unmatched routes share one label', async () => {
    const { app, lines } = tinyApp()
    await (await app.request('/api/v1/boom')).text()
    await (await app.request('/missing/123')).text()
    await (await app.request('/api/v1/conversations/1', { method: 'DELETE' })).text()
    const [boom, missing, wrongMethod] = accessLines(lines)
    assert.deepEqual([boom.status, boom.level, boom.route], [500, 50, '/api/v1/boom'])
    assert.deepEqual([missing.status, missing.level, missing.route], [404, 40, 'unmatched'])
    assert.deepEqual([wrongMethod.status, wrongMethod.level, wrongMethod.route], [405, 40, 'unmatched'])
  })

  it('measures a stream to its end, counting every byte', async () => {
    const { app, lines } = tinyApp()
    const res = await app.request('/api/v1/stream')
    assert.equal(accessLines(lines).length, 0, 'no line while the stream is open')
    const body = await res.text()
    const [line] = accessLines(lines)
    assert.equal(line.bytes, new TextEncoder().encode(body).byteLength)
    assert.ok((line.duration_ms as number) >= 10, `duration covers the stream: ${line.duration_ms}`)
    assert.equal(line.aborted, undefined)
  })

  it('marks a stream the client abandoned', async () => {
    const { app, lines } = tinyApp()
    const res = await app.request('/api/v1/stream')
    const reader = res.body!.getReader()
    await reader.read()
    await reader.cancel()
    const [line] = accessLines(lines)
    assert.equal(line.aborted, true)
    assert.ok((line.bytes as number) > 0)
  })

  it('uses a size recorded by the response builder without reading the body', async () => {
    const { app, lines } = tinyApp()
    const res = await app.request('/sized')
    assert.equal(accessLines(lines)[0].bytes, 6, 'logged before the body is read')
    assert.equal(await res.text(), 'héllo')
  })

  it('gives handlers a child logger carrying request and trace ids', async () => {
    const { app, lines } = tinyApp()
    await (await app.request('/api/v1/logs', { headers: { 'x-request-id': 'req-9' } })).text()
    const inside = lines.find((l) => l.msg === 'inside handler')!
    assert.equal(inside.request_id, 'req-9')
    assert.equal(inside.trace_id, 'trace-abc')
    assert.equal(inside.step, 1)
  })

  it('takes the client from X-Forwarded-For only behind a trusted proxy', async () => {
    const trusted = tinyApp({ trustedProxies: ['10.0.0.0/8'] })
    await (await trusted.app.request('/api/v1/conversations/1', { headers: { 'x-forwarded-for': '203.0.113.9' } })).text()
    assert.equal(accessLines(trusted.lines)[0].ip, '203.0.113.9')
    const untrusted = tinyApp()
    await (await untrusted.app.request('/api/v1/conversations/1', { headers: { 'x-forwarded-for': '203.0.113.9' } })).text()
    assert.equal(accessLines(untrusted.lines)[0].ip, '10.0.0.7')
  })

  it('writes the same line through pino when the logger has formatters', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = pino(
      { formatters: { level: (label) => ({ severity: label }) } },
      { write: (line: string) => void lines.push(JSON.parse(line)) },
    )
    const { app } = tinyApp({ logger })
    await (await app.request('/api/v1/conversations/1?token=abc')).text()
    const [line] = accessLines(lines)
    assert.equal(line.severity, 'info')
    assert.equal(line.route, '/api/v1/conversations/:id')
    assert.equal(line.path, '/api/v1/conversations/1')
  })

  it('respects the logger level', async () => {
    const { app, lines } = tinyApp({ level: 'error' })
    await (await app.request('/api/v1/conversations/1')).text()
    await (await app.request('/missing')).text()
    assert.equal(accessLines(lines).length, 0)
    await (await app.request('/api/v1/boom')).text()
    assert.equal(accessLines(lines).length, 1)
  })
})
