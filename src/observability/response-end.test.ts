import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import { streamText } from 'hono/streaming'
import { onResponseEnd, reportStreamBody, StreamProgress, utf8Length, type ResponseEnd } from './response-end.ts'
import { send } from '../http/response.ts'
import type { AppEnv } from '../env.ts'
import { routeTemplate, UNMATCHED_ROUTE } from './route.ts'

describe('utf8Length', () => {
  it('matches TextEncoder for ASCII, 2-, 3- and 4-byte characters', () => {
    for (const text of ['', 'plain', 'é', '€uro', '𝄞 clef', 'mixed é € 𝄞 done', '\ud800 lone']) {
      assert.equal(utf8Length(text), new TextEncoder().encode(text).byteLength, text)
    }
  })
})

describe('onResponseEnd', () => {
  function appWith(observers: number, ends: ResponseEnd[]) {
    const app = new Hono<AppEnv>()
    for (let i = 0; i < observers; i++) {
      app.use(async (c, next) => {
        await next()
        onResponseEnd(c, (end) => ends.push(end))
      })
    }
    app.get('/chunks', (c) =>
      streamText(c, async (s) => {
        await s.write('abc')
        await s.write('défg')
      }),
    )
    app.get('/sized', (c) => send(c, '12345', 200, null))
    app.get('/empty', () => new Response(null, { status: 204 }))
    return app
  }

  it('lets several observers share one counted copy of a stream', async () => {
    const ends: ResponseEnd[] = []
    const res = await appWith(3, ends).request('/chunks')
    assert.equal(ends.length, 0)
    assert.equal(await res.text(), 'abcdéfg')
    assert.equal(ends.length, 3)
    for (const end of ends) assert.deepEqual([end.bytes, end.streamed, end.aborted], [8, true, false])
    assert.equal(new Set(ends).size, 1, 'one end shared by all observers')
  })

  it('answers at once for recorded sizes, bodiless responses and HEAD', async () => {
    const ends: ResponseEnd[] = []
    const app = appWith(1, ends)
    await app.request('/sized')
    await app.request('/empty')
    await app.request('/sized', { method: 'HEAD' })
    assert.deepEqual(
      ends.map((e) => [e.bytes, e.streamed]),
      [
        [5, false],
        [0, false],
        [0, false],
      ],
    )
  })
})

describe('reportStreamBody', () => {
  it('lets observers follow a stream the app reports itself, without wrapping the response', async () => {
    const ends: ResponseEnd[] = []
    const seen: Response[] = []
    const progress = new StreamProgress()
    let produced!: Response
    const app = new Hono()
    for (let i = 0; i < 2; i++) {
      app.use(async (c, next) => {
        await next()
        onResponseEnd(c, (end) => ends.push(end))
        seen.push(c.res)
      })
    }
    app.get('/own', (c) => {
      produced = new Response(new ReadableStream({ start: (controller) => controller.close() }), { headers: { 'content-type': 'text/event-stream' } })
      reportStreamBody(c, produced, progress)
      return produced
    })
    await app.request('/own')
    assert.deepEqual(seen, [produced, produced], 'c.res stays the response the app made')
    assert.equal(ends.length, 0, 'nothing until the app reports the end')
    progress.wrote(3)
    progress.wrote(4)
    progress.end(true)
    progress.end(false)
    assert.equal(ends.length, 2)
    for (const end of ends) assert.deepEqual([end.bytes, end.streamed, end.aborted], [7, true, true])
    const late: ResponseEnd[] = []
    progress.listen((end) => late.push(end))
    assert.deepEqual(late, [ends[0]], 'a listener joining after the end hears it at once')
  })
})

describe('routeTemplate', () => {
  it('names the endpoint, the serving middleware for successes, else unmatched', async () => {
    const seen: string[] = []
    const app = new Hono()
    app.use(async (c, next) => {
      await next()
      seen.push(routeTemplate(c, c.res.status))
    })
    app.use('/api/*', async (c, next) => (c.req.header('x-deny') ? c.text('no', 401) : next()))
    app.get('/api/items/:id', (c) => c.text('item'))
    app.use('/static/*', async (c) => c.text('file'))
    await app.request('/api/items/1')
    await app.request('/api/items/1', { headers: { 'x-deny': '1' } })
    await app.request('/api/other')
    await app.request('/static/a.css')
    assert.deepEqual(seen, ['/api/items/:id', '/api/items/:id', UNMATCHED_ROUTE, '/static/*'])
  })
})
