import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono, type ErrorHandler } from 'hono'
import { streamSSE } from 'hono/streaming'
import { AUTH, testApp } from '../../test/helpers/app.ts'
import { appWith, FORMS } from '../../test/helpers/forms.ts'
import type { AppEnv } from '../env.ts'
import { HttpProblem } from '../kernel/problem.ts'
import { createPipeline, defineMiddleware, placed, problem, type Stage } from './index.ts'

/** A stage that records its hooks in `log`, optionally answering, throwing or waiting in `before`. */
function recorder(name: string, log: string[], behaviour: { answer?: number; fail?: boolean; async?: boolean; around?: boolean } = {}) {
  const stage: Stage = {
    name,
    before: (c) => {
      log.push(`${name}:before`)
      if (behaviour.fail) throw new Error(`${name} failed`)
      if (behaviour.answer) return c.text(`${name} answered`, behaviour.answer as 200)
      if (behaviour.async) return new Promise<void>((resolve) => setTimeout(resolve, 1))
    },
    around: behaviour.around
      ? async (_c, _scope, next) => {
          log.push(`${name}:around-in`)
          await next()
          log.push(`${name}:around-out`)
        }
      : undefined,
    after: (c) => void log.push(`${name}:after ${c.res.status}`),
  }
  return defineMiddleware(stage)
}

const onError: ErrorHandler<AppEnv> = (error, c) => c.text(`recovered: ${error.message}`, 500)

function routes(app: Hono<AppEnv>) {
  app.get('/ok', (c) => c.text('handler'))
  app.get('/api/thing', (c) => c.text('api'))
  app.get('/boom', () => {
    throw new Error('handler boom')
  })
  app.get('/later', async (c) => c.text('later'))
}

for (const form of FORMS) {
  describe(`a chain of stage middlewares (${form})`, () => {
    it('runs befores in order, arounds nested inside them, afters in reverse', async () => {
      const log: string[] = []
      const app = appWith(form, [recorder('a', log), recorder('b', log, { around: true, async: true }), recorder('c', log, { around: true })], routes, { onError })
      const res = await app.request('/ok')
      assert.equal(await res.text(), 'handler')
      // As one app.use() layer each, a middleware's around runs inside its own layer, before the next
      // layer's before; in the pipeline every before runs first.
      const expected =
        form === 'pipeline'
          ? ['a:before', 'b:before', 'c:before', 'b:around-in', 'c:around-in', 'c:around-out', 'b:around-out', 'c:after 200', 'b:after 200', 'a:after 200']
          : ['a:before', 'b:before', 'b:around-in', 'c:before', 'c:around-in', 'c:around-out', 'c:after 200', 'b:around-out', 'b:after 200', 'a:after 200']
      assert.deepEqual(log, expected)
    })

    it('a stage that answers skips later stages and the handler; earlier afters see its answer', async () => {
      const log: string[] = []
      const app = appWith(form, [recorder('a', log), recorder('b', log, { answer: 429 }), recorder('c', log)], routes, { onError })
      const res = await app.request('/ok')
      assert.equal(res.status, 429)
      assert.equal(await res.text(), 'b answered')
      assert.deepEqual(log, ['a:before', 'b:before', 'a:after 429'])
    })

    it('a stage that throws answers through onError, and earlier afters see the error response', async () => {
      const log: string[] = []
      const app = appWith(form, [recorder('a', log), recorder('b', log, { fail: true }), recorder('c', log)], routes, { onError })
      const res = await app.request('/ok')
      assert.equal(res.status, 500)
      assert.equal(await res.text(), 'recovered: b failed')
      assert.deepEqual(log, ['a:before', 'b:before', 'a:after 500'])
    })

    it('handler errors reach every after as the onError response', async () => {
      const log: string[] = []
      const app = appWith(form, [recorder('a', log), recorder('b', log)], routes, { onError })
      const res = await app.request('/boom')
      assert.equal(res.status, 500)
      assert.deepEqual(log, ['a:before', 'b:before', 'b:after 500', 'a:after 500'])
    })

    it('a stage placed under a prefix runs there and below only', async () => {
      const log: string[] = []
      const app = appWith(form, [placed(recorder('api', log, { around: true }), { under: '/api' })], routes, { onError })
      await app.request('/ok')
      assert.deepEqual(log, [])
      await app.request('/api/thing')
      assert.deepEqual(log, ['api:before', 'api:around-in', 'api:around-out', 'api:after 200'])
    })

    it('a thrown problem is its problem+json answer, with the gathered headers, even under Hono\'s own error handler', async () => {
      const headed = defineMiddleware({ name: 'headed', before: (_c, scope) => scope.header('x-gathered', 'yes') })
      const refuse = defineMiddleware({
        name: 'refuse',
        before: () => {
          throw new HttpProblem(429, { detail: 'slow down', headers: { 'retry-after': '3' } })
        },
      })
      const app = appWith(form, [headed, refuse], routes)
      const res = await app.request('/ok')
      assert.equal(res.status, 429)
      assert.equal(res.headers.get('content-type'), 'application/problem+json')
      assert.equal(res.headers.get('retry-after'), '3')
      assert.equal(res.headers.get('x-gathered'), 'yes')
      assert.equal((await res.json()).detail, 'slow down')
    })

    it('puts gathered headers on plain c.text(), new Response() and stream answers, never over the handler\'s own', async () => {
      const headed = defineMiddleware({
        name: 'headed',
        before: (_c, scope) => {
          scope.header('x-gathered', 'yes')
          scope.header('x-conflict', 'stage')
          scope.header('vary', 'Origin')
        },
      })
      const app = appWith(form, [headed], (app) => {
        app.get('/text', (c) => c.text('t', 200, { 'x-conflict': 'handler', vary: 'Accept' }))
        app.get('/raw', () => new Response('raw'))
        app.get('/frozen', () => Response.redirect('http://localhost/elsewhere', 302))
        app.get('/sse', (c) => streamSSE(c, async (stream) => stream.writeSSE({ data: 'x' })))
      })
      const text = await app.request('/text')
      assert.equal(text.headers.get('x-gathered'), 'yes')
      assert.equal(text.headers.get('x-conflict'), 'handler')
      assert.equal(text.headers.get('vary'), 'Accept, Origin')
      assert.equal((await app.request('/raw')).headers.get('x-gathered'), 'yes')
      const frozen = await app.request('/frozen')
      assert.equal(frozen.status, 302)
      assert.equal(frozen.headers.get('location'), 'http://localhost/elsewhere')
      assert.equal(frozen.headers.get('x-gathered'), 'yes')
      const sse = await app.request('/sse')
      assert.equal(sse.headers.get('x-gathered'), 'yes')
      assert.match(await sse.text(), /data: x/)
    })
  })

  describe(`an observer that fails (${form})`, () => {
    const failing = (where: 'before' | 'after' | 'around' | 'onEnd') =>
      defineMiddleware({
        name: `broken-${where}`,
        observer: true,
        before: (_c, scope) => {
          if (where === 'before') throw new Error('observer before')
          if (where === 'onEnd') {
            scope.onEnd(() => {
              throw new Error('observer onEnd')
            })
          }
        },
        around: (_c, _scope, next) => {
          if (where === 'around') throw new Error('observer around')
          return next()
        },
        after: () => {
          if (where === 'after') throw new Error('observer after')
        },
      })

    for (const where of ['before', 'after', 'around', 'onEnd'] as const) {
      it(`in ${where} leaves every response unchanged and the app serving`, async () => {
        const reported: { stage: string; error: unknown }[] = []
        const log: string[] = []
        const app = appWith(form, [recorder('outer', log), failing(where), recorder('inner', log)], (app) => {
          routes(app)
          app.get('/stream', (c) => streamSSE(c, async (stream) => stream.writeSSE({ data: 'tick' })))
        }, { onError, reported })
        for (let i = 0; i < 3; i++) {
          const ok = await app.request('/ok')
          assert.equal(ok.status, 200)
          assert.equal(await ok.text(), 'handler')
          const later = await app.request('/later')
          assert.equal(await later.text(), 'later')
          const stream = await app.request('/stream')
          assert.match(await stream.text(), /data: tick/)
        }
        assert.ok(log.includes('inner:before') && log.includes('outer:after 200'), 'the other stages ran')
        // The pipeline reports to the app's logger (tested in the app below); alone, to the console.
        if (form === 'pipeline') assert.equal(reported.length, 9, JSON.stringify(reported.map((r) => r.stage)))
        if (form === 'pipeline') assert.ok(reported.every((r) => r.stage.startsWith('broken-') || r.stage === 'onEnd'))
      })
    }
  })
}

describe('createPipeline', () => {
  it('answers synchronously when every stage and the handler do', () => {
    const log: string[] = []
    const chain = createPipeline([recorder('a', log), recorder('b', log)], { onError, report: () => {} })
    const app = new Hono<AppEnv>()
    chain.mount(app, '/', new Hono<AppEnv>().get('/sync', (c) => c.text('now')))
    const res = app.fetch(new Request('http://localhost/sync'))
    assert.ok(res instanceof Response, 'a Response, not a promise')
    assert.deepEqual(log, ['a:before', 'b:before', 'b:after 200', 'a:after 200'])
  })

  it('wraps only the first handler of an endpoint, and runs the stages once per request', async () => {
    const log: string[] = []
    const chain = createPipeline([recorder('a', log)], { onError, report: () => {} })
    const app = new Hono<AppEnv>()
    const guard = async (_c: unknown, next: () => Promise<void>) => {
      log.push('guard')
      await next()
    }
    chain.mount(app, '/', new Hono<AppEnv>().get('/guarded', guard, (c) => c.text('inner')))
    app.notFound(chain.notFound((c) => c.text('none', 404)))
    assert.equal(await (await app.request('/guarded')).text(), 'inner')
    assert.deepEqual(log, ['a:before', 'guard', 'a:after 200'])
    log.length = 0
    assert.equal((await app.request('/elsewhere')).status, 404)
    assert.deepEqual(log, ['a:before', 'a:after 404'])
  })

  it('runs a plain Hono middleware of the chain around the rest', async () => {
    const log: string[] = []
    const plain = async (_c: unknown, next: () => Promise<void>) => {
      log.push('plain-in')
      await next()
      log.push('plain-out')
    }
    const app = appWith('pipeline', [recorder('a', log), plain], routes, { onError })
    assert.equal(await (await app.request('/ok')).text(), 'handler')
    assert.deepEqual(log, ['a:before', 'plain-in', 'plain-out', 'a:after 200'])
  })

  it('places a stage under any of several prefixes, and writes problems in the format placed there', async () => {
    const log: string[] = []
    const refuse = defineMiddleware({ name: 'refuse', before: () => {
      log.push('refuse')
      throw new HttpProblem(403, { detail: 'no' })
    } })
    const other = { contentType: 'application/vnd.other+json', body: (thrown: HttpProblem) => ({ failed: `${thrown.status} ${thrown.detail}` }) }
    const chain = createPipeline([placed(refuse, { under: ['/a', '/b'] })], {
      onError: (error, c) => problem(c, error as HttpProblem),
      report: () => {},
      formats: [{ placement: { under: '/b' }, format: other }],
    })
    const app = new Hono<AppEnv>()
    chain.mount(app, '/', new Hono<AppEnv>().get('/a/x', (c) => c.text('a')).get('/b/x', (c) => c.text('b')).get('/c/x', (c) => c.text('c')))
    app.notFound(chain.notFound((c) => problem(c, new HttpProblem(404, { detail: 'none' }))))
    const a = await app.request('/a/x')
    assert.deepEqual([a.status, a.headers.get('content-type')], [403, 'application/problem+json'])
    const b = await app.request('/b/x')
    assert.deepEqual([b.status, b.headers.get('content-type'), await b.json()], [403, 'application/vnd.other+json', { failed: '403 no' }])
    assert.equal(await (await app.request('/c/x')).text(), 'c')
    // Unmatched paths are placed by path, the format too.
    const missing = await app.request('/b/missing')
    assert.deepEqual([missing.status, await missing.json()], [403, { failed: '403 no' }])
    assert.deepEqual(log, ['refuse', 'refuse', 'refuse'])
    assert.equal((await app.request('/c/missing')).headers.get('content-type'), 'application/problem+json')
  })
})

describe('the app', () => {
  it('mounts routes added later through the whole chain, authentication included', async () => {
    const { app } = await testApp()
    app.route('/api/v1', new Hono<AppEnv>().get('/added', (c) => c.json({ user: c.var.user.id })))
    const refused = await app.request('/api/v1/added')
    assert.equal(refused.status, 401)
    assert.ok(refused.headers.get('x-request-id'))
    const res = await app.request('/api/v1/added', { headers: AUTH.alice })
    assert.deepEqual(await res.json(), { user: 'alice' })
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.ok(!('get' in app) && !('use' in app), 'the Hono instance itself is not handed out')
  })

  it('logs an observer failure and still answers', async () => {
    const broken = { startSpan: () => { throw new Error('tracer down') }, startActiveSpan: () => { throw new Error('tracer down') } }
    const { app, lines } = await testApp({ deps: { tracer: broken as never } })
    for (let i = 0; i < 5; i++) {
      const res = await app.request('/api/v1/me', { headers: AUTH.alice })
      assert.deepEqual(await res.json(), { id: 'alice' })
    }
    const failures = lines.filter((line) => line.stage === 'tracing')
    assert.equal(failures.length, 1, 'reported once, not per request')
    assert.match(String(failures[0].msg), /tracing failed; the response went out unchanged/)
    assert.equal(lines.filter((line) => line.msg === 'request completed').length, 5)
  })
})
