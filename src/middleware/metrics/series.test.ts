import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Counter, Histogram, Registry } from 'prom-client'
import { bindCounter, bindHistogram } from './series.ts'

const LABELS = { method: 'GET', route: '/a/:id' }
const BUCKETS = [0.01, 0.1, 1]

function pair() {
  const registry = new Registry()
  const counter = new Counter({ name: 'c_total', help: 'c', labelNames: ['method', 'route'], registers: [registry] })
  const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['method', 'route'], buckets: BUCKETS, registers: [registry] })
  return { registry, counter, histogram }
}

describe('bound metric series', () => {
  it('print exactly what the public API prints for the same observations', async () => {
    const bound = pair()
    const plain = pair()
    const counter = bindCounter(bound.counter, LABELS)
    const histogram = bindHistogram(bound.histogram, LABELS)
    // The installed prom-client still has the storage layout the fast path writes to.
    assert.equal(counter.direct, true)
    assert.equal(histogram.direct, true)
    // Edges and beyond the last bucket (only +Inf counts it).
    for (const value of [0, 0.005, 0.01, 0.0100001, 0.5, 1, 7, 42]) {
      counter.inc()
      histogram.observe(value)
      plain.counter.inc(LABELS)
      plain.histogram.observe(LABELS, value)
    }
    const text = await bound.registry.metrics()
    assert.equal(text, await plain.registry.metrics())
    assert.match(text, /c_total\{method="GET",route="\/a\/:id"\} 8/)
    assert.match(text, /h_seconds_bucket\{le="0.01",method="GET",route="\/a\/:id"\} 3/)
    assert.match(text, /h_seconds_bucket\{le="\+Inf",method="GET",route="\/a\/:id"\} 8/)
  })

  it('keep counting after the registry is reset or the series removed', async () => {
    const { registry, counter, histogram } = pair()
    const c = bindCounter(counter, LABELS)
    const h = bindHistogram(histogram, LABELS)
    c.inc()
    h.observe(0.5)
    registry.resetMetrics()
    c.inc()
    h.observe(0.05)
    histogram.remove(LABELS)
    counter.remove(LABELS)
    c.inc()
    h.observe(2)
    const text = await registry.metrics()
    assert.match(text, /c_total\{method="GET",route="\/a\/:id"\} 1\n/)
    assert.match(text, /h_seconds_count\{method="GET",route="\/a\/:id"\} 1\n/)
    assert.match(text, /h_seconds_sum\{method="GET",route="\/a\/:id"\} 2\n/)
  })

  it('never wipe a series that already has observations when binding', async () => {
    const { registry, counter, histogram } = pair()
    counter.inc(LABELS, 5)
    histogram.observe(LABELS, 0.5)
    bindCounter(counter, LABELS).inc()
    bindHistogram(histogram, LABELS).observe(0.5)
    const text = await registry.metrics()
    assert.match(text, /c_total\{method="GET",route="\/a\/:id"\} 6\n/)
    assert.match(text, /h_seconds_count\{method="GET",route="\/a\/:id"\} 2\n/)
  })

  it('reject a value that is not a finite number, as prom-client does, and keep the sum intact', async () => {
    const { registry, histogram } = pair()
    const h = bindHistogram(histogram, LABELS)
    h.observe(0.5)
    assert.throws(() => h.observe(Number.NaN), TypeError)
    assert.match(await registry.metrics(), /h_seconds_sum\{method="GET",route="\/a\/:id"\} 0.5\n/)
  })
})
