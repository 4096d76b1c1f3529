import type { Counter, Histogram, LabelValues } from 'prom-client'

/** One labelled series of a counter, bound once. */
export interface CounterSeries {
  inc(): void
  /** Bound to prom-client's storage (false: every call goes through the public API). */
  readonly direct: boolean
}

/** One labelled series of a histogram, bound once. */
export interface HistogramSeries {
  observe(value: number): void
  /** Bound to prom-client's storage (false: every call goes through the public API). */
  readonly direct: boolean
}

/**
 * prom-client's internal per-series storage: `metric.hashMap[hash]` holds `{labels, value}` for a
 * counter and `{labels, bucketValues, sum, count}` for a histogram. Not public API, so each binding
 * checks the shape and falls back to the public calls when it differs (`series.test.ts` compares both
 * paths' output, so a prom-client release that changes the layout fails a test, not the metrics).
 */
interface Stored {
  hashMap?: Record<string, Record<string, unknown>>
  enableExemplars?: boolean
  upperBounds?: number[]
}

/** Finds the storage entry whose labels equal `labels` (only when binding, so a scan is fine). */
function locate(metric: Stored, labels: LabelValues<string>): { key: string; entry: Record<string, unknown> } | null {
  const map = metric.hashMap
  if (!map || typeof map !== 'object') return null
  const names = Object.keys(labels)
  for (const key in map) {
    const stored = map[key]?.labels as LabelValues<string> | undefined
    if (!stored || Object.keys(stored).length !== names.length) continue
    if (names.every((name) => String(stored[name]) === String(labels[name]))) return { key, entry: map[key] }
  }
  return null
}

/**
 * Binds a counter series. prom-client's own `inc(labels)` hashes and validates the label object on
 * every call (together with the histogram's, about 1 µs per request on the bench machine); a bound
 * series costs a property check and an addition. A reset or a removed series is noticed (the stored
 * entry is no longer the one bound) and the series re-created through the public API.
 */
export function bindCounter(counter: Counter, labels: LabelValues<string>): CounterSeries {
  const metric = counter as unknown as Stored
  const fallback = counter.labels(labels)
  let key = ''
  let entry: Record<string, unknown> | null = null
  const bind = () => {
    counter.inc(labels, 0)
    const found = locate(metric, labels)
    if (found === null || typeof found.entry.value !== 'number' || metric.enableExemplars) return false
    key = found.key
    entry = found.entry
    return true
  }
  if (!bind()) return { inc: () => fallback.inc(), direct: false }
  return {
    direct: true,
    inc() {
      if (metric.hashMap![key] !== entry && !bind()) return fallback.inc()
      ;(entry!.value as number) += 1
    },
  }
}

/** Binds a histogram series, as `bindCounter` does for counters. */
export function bindHistogram(histogram: Histogram, labels: LabelValues<string>): HistogramSeries {
  const metric = histogram as unknown as Stored
  const fallback = histogram.labels(labels)
  const bounds = metric.upperBounds
  // The bucket keys as prom-client stores them, so an observation converts no number to a key.
  const keys = Array.isArray(bounds) ? bounds.map(String) : []
  let key = ''
  let entry: { bucketValues: Record<number, number>; sum: number; count: number } | null = null
  const bind = () => {
    // `zero()` would wipe a series that already has observations: create it only when missing.
    if (!locate(metric, labels)) histogram.zero(labels)
    const found = locate(metric, labels)
    const candidate = found?.entry as typeof entry
    if (!found || !Array.isArray(bounds) || metric.enableExemplars) return false
    if (typeof candidate?.bucketValues !== 'object' || typeof candidate.sum !== 'number' || typeof candidate.count !== 'number') return false
    key = found.key
    entry = candidate
    return true
  }
  if (!bind()) return { observe: (value) => fallback.observe(value), direct: false }
  return {
    direct: true,
    observe(value) {
      // The public API's checks: a bad value throws there, and must not corrupt the stored sum here.
      if (!Number.isFinite(value)) return fallback.observe(value)
      if (metric.hashMap![key] !== entry && !bind()) return fallback.observe(value)
      const target = entry!
      target.sum += value
      target.count += 1
      for (let i = 0; i < bounds!.length; i++) {
        if (value <= bounds![i]) {
          ;(target.bucketValues as Record<string, number>)[keys[i]] += 1
          return
        }
      }
    },
  }
}
