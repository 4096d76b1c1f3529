import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { testApp } from '../../../test/helpers/app.ts'
import { ManualClock } from '../../kernel/clock.ts'
import { HealthChecks } from './index.ts'

const never = () => new Promise<void>(() => {})

describe('GET /health', () => {
  it('returns the healthy shape with no checks registered', async () => {
    const { app } = await testApp()
    const res = await app.request('/health')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    const body = await res.json()
    assert.deepEqual(Object.keys(body).sort(), ['checks', 'dependencies', 'service', 'status', 'timestamp', 'version'])
    assert.equal(body.status, 'healthy')
    assert.equal(body.service, 'assistant-server')
    assert.equal(typeof body.version, 'string')
    assert.ok(Math.abs(body.timestamp - Date.now()) < 60_000, 'timestamp in milliseconds')
    assert.deepEqual(body.dependencies, {})
  })

  it('reports each registered check and answers 503 when one fails', async () => {
    const { app, deps } = await testApp()
    deps.health.register({ name: 'store', check: async () => {} })
    deps.health.register({
      name: 'ai',
      check: async () => {
        throw new Error('connection refused')
      },
    })
    const res = await app.request('/health')
    assert.equal(res.status, 503)
    const body = await res.json()
    assert.equal(body.status, 'unhealthy')
    assert.deepEqual(body.dependencies, { store: 'connected', ai: 'disconnected' })
    assert.equal(body.checks.store.healthy, true)
    assert.equal(typeof body.checks.store.latency_ms, 'number')
    assert.equal(body.checks.store.error, undefined)
    assert.equal(body.checks.ai.healthy, false)
    assert.equal(body.checks.ai.error, 'connection refused')
  })

  it("bounds a check that never resolves by the check's own timeout and aborts its signal", async () => {
    const clock = new ManualClock()
    const { app, deps } = await testApp({ deps: { clock } })
    let signal: AbortSignal | undefined
    deps.health.register({
      name: 'stuck',
      timeoutMs: 20,
      check: (s) => {
        signal = s
        return never()
      },
    })
    const pending = app.request('/health')
    for (let turn = 0; turn < 100 && !signal; turn++) await new Promise((resolve) => setImmediate(resolve))
    await clock.advance(19)
    assert.equal(signal?.aborted, false)
    await clock.advance(1)
    const res = await pending
    assert.equal(res.status, 503)
    const body = await res.json()
    assert.equal(body.checks.stuck.healthy, false)
    assert.match(body.checks.stuck.error, /timed out after 20 ms/)
    assert.equal(signal?.aborted, true)
  })

  it('caches the report for about a second so concurrent probes call a check once', async () => {
    const clock = new ManualClock()
    const { app, deps } = await testApp({ deps: { clock } })
    let calls = 0
    deps.health.register({
      name: 'store',
      check: async () => {
        calls++
        // Still running while the other probes arrive.
        await new Promise((resolve) => setImmediate(resolve))
      },
    })
    const responses = await Promise.all(Array.from({ length: 20 }, () => app.request('/health')))
    assert.ok(responses.every((res) => res.status === 200))
    assert.equal(calls, 1)
    await clock.advance(999)
    await app.request('/health')
    assert.equal(calls, 1)
    await clock.advance(1)
    await app.request('/health')
    assert.equal(calls, 2)
  })
})

describe('HealthChecks', () => {
  it('uses the default per-check timeout from the options', async () => {
    const clock = new ManualClock()
    const checks = new HealthChecks({ clock, timeoutMs: 10 })
    checks.register({ name: 'stuck', check: never })
    const pending = checks.report()
    await clock.advance(10)
    const report = await pending
    assert.equal(report.healthy, false)
    assert.match(report.checks.stuck.error ?? '', /timed out after 10 ms/)
  })

  it('keeps a failing non-critical check out of readiness', async () => {
    const checks = new HealthChecks({ clock: new ManualClock() })
    checks.register({
      name: 'optional',
      critical: false,
      check: async () => {
        throw new Error('down')
      },
    })
    const report = await checks.report()
    assert.equal(report.healthy, false)
    assert.equal(report.ready, true)
  })
})

describe('GET /ready and /live', () => {
  it('/ready is 503 while starting, 200 when ready, 503 while draining', async () => {
    const { app, deps } = await testApp()
    deps.lifecycle.state = 'starting'
    const starting = await app.request('/ready')
    assert.equal(starting.status, 503)
    assert.deepEqual(await starting.json(), { status: 'starting' })
    deps.lifecycle.markReady()
    const ready = await app.request('/ready')
    assert.equal(ready.status, 200)
    assert.deepEqual(await ready.json(), { status: 'ready' })
    deps.lifecycle.markDraining()
    const draining = await app.request('/ready')
    assert.equal(draining.status, 503)
    assert.deepEqual(await draining.json(), { status: 'draining' })
  })

  it('/ready is 503 when a critical dependency is down', async () => {
    const { app, deps } = await testApp()
    deps.health.register({
      name: 'store',
      check: async () => {
        throw new Error('down')
      },
    })
    const res = await app.request('/ready')
    assert.equal(res.status, 503)
    assert.deepEqual(await res.json(), { status: 'dependencies_unavailable' })
  })

  it('/live is 200 whenever the process serves, draining or not', async () => {
    const { app, deps } = await testApp()
    deps.lifecycle.markDraining()
    deps.health.register({
      name: 'store',
      check: async () => {
        throw new Error('down')
      },
    })
    const res = await app.request('/live')
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'alive' })
  })
})
