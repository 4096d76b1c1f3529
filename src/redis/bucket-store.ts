import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { WallClock } from '../kernel/clock.ts'
import { GLOBAL_BUCKET, MemoryBucketStore, type Admission, type BucketSpec, type BucketStore, type TakeResult } from '../middleware/rate-limit/bucket-store.ts'
import { LuaScript, type RedisPort } from './client.ts'

/**
 * Two token buckets in one atomic step, refilled continuously from the server's own `TIME` so the
 * instances' clocks never matter. KEYS: the client's bucket, the global bucket (one hash tag).
 * ARGV: client capacity, client refill/s, global capacity, global refill/s (0 capacity: no global).
 * A bucket is a hash {tokens, at}; it expires once it would be full again, so idle clients cost nothing.
 * Returns {client allowed, client tokens, global allowed (-1: not asked), global tokens, now ms}.
 */
const TAKE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function take(key, capacity, perMs)
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(b[1])
  local at = tonumber(b[2])
  if tokens == nil or at == nil then tokens = capacity else tokens = math.min(capacity, tokens + math.max(0, now - at) * perMs) end
  local allowed = 0
  if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((capacity - tokens) / perMs) + 1000)
  return allowed, tokens
end
local ca, ct = take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]) / 1000)
local ga, gt = -1, 0
if ca == 1 and tonumber(ARGV[3]) > 0 then ga, gt = take(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]) / 1000) end
return {ca, tostring(ct), ga, tostring(gt), now}
`)

function result(allowed: boolean, tokens: number, spec: BucketSpec, at: number): TakeResult {
  const perMs = spec.refillPerSecond / 1000
  return {
    allowed,
    remaining: Math.floor(tokens),
    resetMs: Math.ceil((spec.capacity - tokens) / perMs),
    retryAfterMs: allowed ? 0 : Math.ceil((1 - tokens) / perMs),
    at,
  }
}

/** Token buckets in Redis, shared by every instance. Throws when Redis is unavailable or slower than `timeoutMs`. */
export class RedisBucketStore implements BucketStore {
  readonly #redis: RedisPort
  readonly #timeoutMs: number

  constructor(redis: RedisPort, options: { timeoutMs: number }) {
    this.#redis = redis
    this.#timeoutMs = options.timeoutMs
  }

  #key(name: string): string {
    // One hash tag for every bucket: the client's and the global one meet in one script.
    return this.#redis.key('{rl}', name)
  }

  async admit(key: string, client: BucketSpec, global: BucketSpec): Promise<Admission> {
    return this.#run(key, client, global)
  }

  async take(key: string, spec: BucketSpec): Promise<TakeResult> {
    return (await this.#run(key, spec, undefined)).client
  }

  async #run(key: string, client: BucketSpec, global: BucketSpec | undefined): Promise<Admission> {
    const args = [client.capacity, client.refillPerSecond, global?.capacity ?? 0, global?.refillPerSecond ?? 0]
    const [ca, ct, ga, gt, now] = await this.#redis.eval<[number, string, number, string, number]>(
      TAKE,
      [this.#key(key), this.#key(GLOBAL_BUCKET)],
      args,
      this.#timeoutMs,
    )
    return {
      client: result(ca === 1, Number(ct), client, now),
      global: global && ga !== -1 ? result(ga === 1, Number(gt), global, now) : null,
    }
  }
}

export interface FallbackBucketStoreOptions {
  shared: BucketStore
  clock: WallClock
  /** Instances sharing the limits (config `server.rate_limit.instances`); the local buckets allow limit / instances. */
  instances: number
  logger?: Logger
  registry?: Registry
}

/** `spec` divided among `instances`, never below one token. */
function share(spec: BucketSpec, instances: number): BucketSpec {
  return { capacity: Math.max(1, Math.floor(spec.capacity / instances)), refillPerSecond: spec.refillPerSecond / instances }
}

/**
 * The shared buckets, and local ones with the limit divided by the instance count whenever the
 * shared store fails or is too slow: limits degrade, requests never wait on a sick Redis, and
 * it never fails open silently. The switch is logged both ways and shown by the
 * `rate_limit_shared` gauge (1 shared, 0 local) and `rate_limit_local_decisions_total`.
 */
export class FallbackBucketStore implements BucketStore {
  readonly #shared: BucketStore
  readonly #local: MemoryBucketStore
  readonly #instances: number
  readonly #logger: Logger | undefined
  readonly #gauge: Gauge | undefined
  readonly #localDecisions: Counter | undefined
  #usingLocal = false

  constructor(options: FallbackBucketStoreOptions) {
    this.#shared = options.shared
    this.#local = new MemoryBucketStore({ clock: options.clock })
    this.#instances = options.instances
    this.#logger = options.logger
    if (options.registry) {
      this.#gauge = new Gauge({ name: 'rate_limit_shared', help: '1 while rate limits are shared through Redis, 0 while each instance limits alone', registers: [options.registry] })
      this.#gauge.set(1)
      this.#localDecisions = new Counter({ name: 'rate_limit_local_decisions_total', help: 'Rate-limit decisions taken by local buckets because Redis was unavailable', registers: [options.registry] })
    }
  }

  /** Whether the last decision came from the local buckets. */
  get local(): boolean {
    return this.#usingLocal
  }

  admit(key: string, client: BucketSpec, global: BucketSpec): Promise<Admission> {
    const n = this.#instances
    return this.#decide(() => this.#shared.admit(key, client, global), () => this.#local.admit(key, share(client, n), share(global, n)))
  }

  take(key: string, spec: BucketSpec): Promise<TakeResult> {
    return this.#decide(() => this.#shared.take(key, spec), () => this.#local.take(key, share(spec, this.#instances)))
  }

  async #decide<T>(shared: () => T | Promise<T>, local: () => T): Promise<T> {
    try {
      const decided = await shared()
      this.#switch(false)
      return decided
    } catch (error) {
      this.#switch(true, error)
      this.#localDecisions?.inc()
      return local()
    }
  }

  #switch(local: boolean, error?: unknown): void {
    if (local === this.#usingLocal) return
    this.#usingLocal = local
    this.#gauge?.set(local ? 0 : 1)
    if (local) {
      this.#logger?.warn({ err: error, instances: this.#instances }, 'rate limits are local (limit / RATE_LIMIT_INSTANCES) until Redis answers again')
    } else this.#logger?.info('rate limits are shared through Redis again')
  }
}
