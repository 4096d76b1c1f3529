import type { WallClock } from '../../kernel/clock.ts'

export interface BucketSpec {
  /** Most tokens the bucket holds (the burst). */
  capacity: number
  /** Tokens added per second. */
  refillPerSecond: number
}

export interface TakeResult {
  allowed: boolean
  /** Whole tokens left after this request. */
  remaining: number
  /** Milliseconds until the bucket is full again. */
  resetMs: number
  /** Milliseconds until one token is available (0 when allowed). */
  retryAfterMs: number
  /** The store's clock at this take (ms since the epoch), which `resetMs` counts from. */
  at: number
}

/** A request's admission: its client's bucket, and the global one when the client's let it through. */
export interface Admission {
  client: TakeResult
  /** Null when the client's bucket refused (no global token is spent then). */
  global: TakeResult | null
}

/** The global bucket's key. */
export const GLOBAL_BUCKET = 'global'

/**
 * Where token buckets live. The memory adapter serves one process; a shared adapter (Redis,
 * `src/redis/`) implements the same methods so several instances share limits.
 */
export interface BucketStore {
  take(key: string, spec: BucketSpec): TakeResult | Promise<TakeResult>
  /** One token from `key`'s bucket and, if it had one, from the global bucket: one step for a shared store. */
  admit(key: string, client: BucketSpec, global: BucketSpec): Admission | Promise<Admission>
}

export interface MemoryBucketStoreOptions {
  clock: WallClock
  /** Most keys kept; idle full buckets are dropped first. Default 100,000. */
  maxKeys?: number
}

interface Bucket {
  tokens: number
  at: number
}

/** In-process token buckets with lazy refill; no timers, so it also runs in a Workers isolate. */
export class MemoryBucketStore implements BucketStore {
  readonly #buckets = new Map<string, Bucket>()
  readonly #clock: WallClock
  readonly #maxKeys: number

  constructor(options: MemoryBucketStoreOptions) {
    this.#clock = options.clock
    this.#maxKeys = options.maxKeys ?? 100_000
  }

  get size(): number {
    return this.#buckets.size
  }

  take(key: string, spec: BucketSpec): TakeResult {
    const now = this.#clock.now()
    const perMs = spec.refillPerSecond / 1000
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#evict(now, perMs, spec.capacity)
      bucket = { tokens: spec.capacity, at: now }
      this.#buckets.set(key, bucket)
    } else {
      bucket.tokens = Math.min(spec.capacity, bucket.tokens + (now - bucket.at) * perMs)
      bucket.at = now
    }
    const allowed = bucket.tokens >= 1
    if (allowed) bucket.tokens -= 1
    return {
      allowed,
      remaining: Math.floor(bucket.tokens),
      resetMs: Math.ceil((spec.capacity - bucket.tokens) / perMs),
      retryAfterMs: allowed ? 0 : Math.ceil((1 - bucket.tokens) / perMs),
      at: now,
    }
  }

  admit(key: string, client: BucketSpec, global: BucketSpec): Admission {
    const taken = this.take(key, client)
    return { client: taken, global: taken.allowed ? this.take(GLOBAL_BUCKET, global) : null }
  }

  /** Drops buckets that have refilled completely (they carry no state); failing that, the oldest tenth. */
  #evict(now: number, perMs: number, capacity: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * perMs >= capacity) this.#buckets.delete(key)
    }
    if (this.#buckets.size < this.#maxKeys) return
    let drop = Math.ceil(this.#maxKeys / 10)
    for (const key of this.#buckets.keys()) {
      if (drop-- <= 0) break
      this.#buckets.delete(key)
    }
  }
}
