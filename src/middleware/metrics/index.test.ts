import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { Registry } from 'prom-client'
import type { AppEnv } from '../../env.ts'
import { defineMiddleware, json } from '../../pipeline/index.ts'
import { notFound as notFoundWith, recovery } from '../recovery/index.ts'
import { memoryLogger } from '../../../test/helpers/app.ts'
import { appWith, FORMS, type Form } from '../../../test/helpers/forms.ts'
import { metrics } from './index.ts'

const PROMTOOL = '/usr/bin/promtool'

/** Refuses requests with `x-deny` before the handler, as authentication would. */
const deny = defineMiddleware({
  name: 'deny',
  before: (c) => (c.req.header('x-deny') ? json(c, { denied: true }, 401) : undefined),
})

function makeTinyApp(form: Form) {
  const registry = new Registry()
  const { logger } = memoryLogger()
  const prometheus = metrics({ registry })
  const app = appWith(
    form,
    [prometheus.middleware, { middleware: deny, placement: { under: '/api' } }],
    (app) => {
      app.get('/metrics', prometheus.handler)
      app.get('/api/v1/conversations/:id', (c) => json(c, { id: c.req.param('id') }))
      app.post('/api/v1/conversations', (c) => c.json({ ok: true }, 201))
      app.get('/api/v1/boom', () => {
        throw new Error('kaboom')
      })
      app.get('/api/v1/stream', (c) =>
        streamSSE(c, async (stream) => {
          for (let i = 0; i < 3; i++) await stream.writeSSE({ data: String(i) })
        }),
      )
    },
    { onError: recovery({ logger }) },
  )
  if (form === 'app.use') app.notFound(notFoundWith(app))
  return { app, registry }
}

async function scrape(app: Hono<AppEnv>): Promise<{ text: string; contentType: string | null }> {
  const res = await app.request('/metrics')
  return { text: await res.text(), contentType: res.headers.get('content-type') }
}

function seriesOf(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`))
}

for (const form of FORMS) describe(`metrics middleware (${form})`, () => {
  const tinyApp = () => makeTinyApp(form)
  it('labels by route template, never the raw path', async () => {
    const { app } = tinyApp()
    for (const id of ['a1', 'b2', 'c3']) await (await app.request(`/api/v1/conversations/${id}`)).text()
    const { text } = await scrape(app)
    const series = seriesOf(text, 'http_requests_total')
    assert.ok(series.some((s) => s.includes('route="/api/v1/conversations/:id"') && s.includes('status="200"') && s.endsWith(' 3')), text)
    assert.ok(!text.includes('a1') && !text.includes('b2'), 'raw ids must not appear')
  })

  it('gives 404, 405, a middleware refusal and a thrown error sensible labels', async () => {
    const { app } = tinyApp()
    assert.equal((await app.request('/nope/123')).status, 404)
    assert.equal((await app.request('/api/v1/nope/456')).status, 404)
    assert.equal((await app.request('/api/v1/conversations/9', { method: 'DELETE' })).status, 405)
    assert.equal((await app.request('/api/v1/conversations/9', { headers: { 'x-deny': '1' } })).status, 401)
    assert.equal((await app.request('/api/v1/boom')).status, 500)
    const series = seriesOf((await scrape(app)).text, 'http_requests_total')
    const find = (status: string) => series.filter((s) => s.includes(`status="${status}"`))
    assert.deepEqual(find('404').map((s) => /route="([^"]*)"/.exec(s)![1]), ['unmatched'])
    assert.ok(find('404')[0].endsWith(' 2'))
    assert.match(find('405')[0], /route="unmatched"/)
    assert.match(find('401')[0], /route="\/api\/v1\/conversations\/:id"/)
    assert.match(find('500')[0], /route="\/api\/v1\/boom"/)
  })

  it('1,000 distinct raw ids make one route series', async () => {
    const { app } = tinyApp()
    for (let i = 0; i < 1000; i++) await (await app.request(`/api/v1/conversations/id-${i}`)).text()
    const { text } = await scrape(app)
    const routes = seriesOf(text, 'http_requests_total').filter((s) => s.includes('/api/v1/conversations'))
    assert.equal(routes.length, 1, routes.join('\n'))
    assert.ok(routes[0].endsWith(' 1000'))
    const buckets = seriesOf(text, 'http_request_duration_seconds_count').filter((s) => s.includes('/api/v1/conversations'))
    assert.equal(buckets.length, 1)
  })

  it('folds methods outside the standard set into one OTHER label', async () => {
    const { app } = tinyApp()
    for (const method of ['FOO', 'BAR', 'PROPFIND', 'GET']) await (await app.request('/nowhere', { method })).text()
    const { text } = await scrape(app)
    const methods = new Set(seriesOf(text, 'http_requests_total').map((s) => /method="([^"]*)"/.exec(s)![1]))
    assert.deepEqual([...methods].sort(), ['GET', 'OTHER'])
  })

  it('serves /metrics with the registry content type', async () => {
    const { app, registry } = tinyApp()
    const { contentType } = await scrape(app)
    assert.equal(contentType, registry.contentType)
  })

  it('times a stream to its end in http_stream_duration_seconds', async () => {
    const { app } = tinyApp()
    const res = await app.request('/api/v1/stream')
    // Before the body is read the stream is still open: nothing observed yet.
    let text = (await scrape(app)).text
    assert.equal(seriesOf(text, 'http_stream_duration_seconds_count').length, 0)
    const body = await res.text()
    assert.match(body, /data: 2/)
    text = (await scrape(app)).text
    const counts = seriesOf(text, 'http_stream_duration_seconds_count')
    assert.equal(counts.length, 1, text)
    assert.match(counts[0], /route="\/api\/v1\/stream"/)
    assert.match(counts[0], /aborted="false"/)
    assert.ok(counts[0].endsWith(' 1'))
    // Plain JSON responses are not streams.
    await (await app.request('/api/v1/conversations/1')).text()
    assert.equal(seriesOf((await scrape(app)).text, 'http_stream_duration_seconds_count').length, 1)
    // A second stream lands in the same series.
    await (await app.request('/api/v1/stream')).text()
    const again = seriesOf((await scrape(app)).text, 'http_stream_duration_seconds_count')
    assert.equal(again.length, 1)
    assert.ok(again[0].endsWith(' 2'), again[0])
  })

  it('records an aborted stream as aborted', async () => {
    const { app } = tinyApp()
    const res = await app.request('/api/v1/stream')
    await res.body!.cancel()
    const counts = seriesOf((await scrape(app)).text, 'http_stream_duration_seconds_count')
    assert.match(counts[0], /aborted="true"/)
  })

  it('passes promtool check metrics after traffic', async () => {
    assert.ok(
      existsSync(PROMTOOL),
      `promtool is required at ${PROMTOOL} (Debian package "prometheus"; .ci/run installs it)`,
    )
    const { app } = tinyApp()
    await (await app.request('/api/v1/conversations/1')).text()
    await (await app.request('/api/v1/conversations', { method: 'POST' })).text()
    await (await app.request('/nope')).text()
    await (await app.request('/api/v1/boom')).text()
    await (await app.request('/api/v1/stream')).text()
    const { text } = await scrape(app)
    const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 })
    assert.equal(result.error, undefined)
    assert.equal(result.status, 0, `promtool: ${result.stdout}${result.stderr}`)
    assert.equal(`${result.stdout}${result.stderr}`.trim(), '', 'promtool reported problems')
  })
})
