import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Hono } from 'hono'
import type { AppEnv } from '../../env.ts'
import { testApp } from '../../../test/helpers/app.ts'
import { asMiddleware, endpointPipeline, onlyUnder, pipeline, type Stage } from './index.ts'

/** A stage that records its hooks in `log`, optionally answering, throwing or waiting in `before`. */
function recorder(name: string, log: string[], behaviour: { answer?: number; fail?: boolean; async?: boolean; around?: boolean } = {}): Stage {
  return {
    name,
    before: (c) => {
      log.push(`${name}:before`)
      if (behaviour.fail) throw new Error(`${name} failed`)
      if (behaviour.answer) return c.text(`${name} answered`, behaviour.answer as 200)
      if (behaviour.async) return new Promise<void>((resolve) => setTimeout(resolve, 1))
    },
    around: behaviour.around
      ? async (_c, next) => {
          log.push(`${name}:around-in`)
          await next()
          log.push(`${name}:around-out`)
        }
      : undefined,
    after: (c) => log.push(`${name}:after ${c.res.status}`),
  }
}

function appWith(stages: Stage[], withOnError = true) {
  const app = new Hono<AppEnv>()
  const onError = (error: Error, c: any) => c.text(`recovered: ${error.message}`, 500)
  app.use(pipeline(stages, withOnError ? { onError } : {}))
  app.get('/ok', (c) => c.text('handler'))
  app.get('/api/thing', (c) => c.text('api'))
  app.get('/boom', () => {
    throw new Error('handler boom')
  })
  app.onError(onError)
  return app
}

describe('pipeline', () => {
  it('runs befores in order, arounds nested inside them, afters in reverse', async () => {
    const log: string[] = []
    const app = appWith([recorder('a', log), recorder('b', log, { around: true, async: true }), recorder('c', log, { around: true })])
    const res = await app.request('/ok')
    assert.equal(await res.text(), 'handler')
    assert.deepEqual(log, [
      'a:before',
      'b:before',
      'c:before',
      'b:around-in',
      'c:around-in',
      'c:around-out',
      'b:around-out',
      'c:after 200',
      'b:after 200',
      'a:after 200',
    ])
  })

  it('a stage that answers skips later stages and the handler; earlier afters see its answer', async () => {
    const log: string[] = []
    const app = appWith([recorder('a', log), recorder('b', log, { answer: 429 }), recorder('c', log)])
    const res = await app.request('/ok')
    assert.equal(res.status, 429)
    assert.equal(await res.text(), 'b answered')
    assert.deepEqual(log, ['a:before', 'b:before', 'a:after 429'])
  })

  it('a stage that throws answers through onError, and earlier afters see the error response', async () => {
    const log: string[] = []
    const app = appWith([recorder('a', log), recorder('b', log, { fail: true }), recorder('c', log)])
    const res = await app.request('/ok')
    assert.equal(res.status, 500)
    assert.equal(await res.text(), 'recovered: b failed')
    assert.deepEqual(log, ['a:before', 'b:before', 'a:after 500'])
  })

  it('handler errors reach every after as the onError response', async () => {
    const log: string[] = []
    const app = appWith([recorder('a', log), recorder('b', log)])
    const res = await app.request('/boom')
    assert.equal(res.status, 500)
    assert.deepEqual(log, ['a:before', 'b:before', 'b:after 500', 'a:after 500'])
  })

  it('without onError a stage error goes to Hono, and no after runs for it', async () => {
    const log: string[] = []
    const app = appWith([recorder('a', log), recorder('b', log, { fail: true })], false)
    const res = await app.request('/ok')
    assert.equal(res.status, 500)
    assert.equal(await res.text(), 'recovered: b failed')
    assert.deepEqual(log, ['a:before', 'b:before'])
  })

  it('onlyUnder runs a stage for the prefix and below it only', async () => {
    const log: string[] = []
    const app = appWith([onlyUnder('/api', recorder('api', log, { around: true }))])
    await app.request('/ok')
    assert.deepEqual(log, [])
    await app.request('/api/thing')
    assert.deepEqual(log, ['api:before', 'api:around-in', 'api:around-out', 'api:after 200'])
    log.length = 0
    await app.request('/apiary')
    assert.deepEqual(log, [])
  })

  it('asMiddleware is one stage as an app.use middleware', async () => {
    const log: string[] = []
    const app = new Hono<AppEnv>()
    app.use(asMiddleware(recorder('solo', log)))
    app.get('/ok', (c) => c.text('handler'))
    assert.equal(await (await app.request('/ok')).text(), 'handler')
    assert.deepEqual(log, ['solo:before', 'solo:after 200'])
  })
})

describe('endpointPipeline', () => {
  const onError = (error: Error, c: any) => c.text(`recovered: ${error.message}`, 500)

  it('answers synchronously when every stage and the handler do', () => {
    const log: string[] = []
    const chain = endpointPipeline([recorder('a', log), recorder('b', log, { around: false })], { onError })
    const app = new Hono<AppEnv>()
    chain.mount(app, '/', new Hono<AppEnv>().get('/sync', (c) => c.text('now')))
    const res = app.fetch(new Request('http://localhost/sync'))
    assert.ok(res instanceof Response, 'a Response, not a promise')
    assert.deepEqual(log, ['a:before', 'b:before', 'b:after 200', 'a:after 200'])
  })

  it('runs arounds and afters across an asynchronous handler, and recovers its errors', async () => {
    const log: string[] = []
    const chain = endpointPipeline([recorder('a', log, { around: true, async: true })], { onError })
    const app = new Hono<AppEnv>()
    chain.mount(
      app,
      '/api',
      new Hono<AppEnv>()
        .get('/later', async (c) => c.text('later'))
        .get('/fails', async () => {
          throw new Error('handler boom')
        }),
    )
    assert.equal(await (await app.request('/api/later')).text(), 'later')
    assert.deepEqual(log, ['a:before', 'a:around-in', 'a:around-out', 'a:after 200'])
    log.length = 0
    const failed = await app.request('/api/fails')
    assert.equal(failed.status, 500)
    assert.equal(await failed.text(), 'recovered: handler boom')
    assert.deepEqual(log, ['a:before', 'a:around-in', 'a:after 500'])
  })

  it('wraps only the first handler of an endpoint, and runs the stages once per request', async () => {
    const log: string[] = []
    const chain = endpointPipeline([recorder('a', log)], { onError })
    const app = new Hono<AppEnv>()
    const guard = async (c: any, next: () => Promise<void>) => {
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

  it('every endpoint of the app runs the chain', async () => {
    const { app } = await testApp()
    let previous: { method: string; path: string } | undefined
    for (const route of app.routes) {
      const first = previous === undefined || previous.method !== route.method || previous.path !== route.path
      if (first) assert.equal(route.handler.name, 'pipelineEndpoint', `${route.method} ${route.path} skips the chain`)
      previous = route
    }
    assert.ok(app.routes.length > 10)
  })
})
