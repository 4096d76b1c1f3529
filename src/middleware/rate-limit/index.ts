import type { Context, MiddlewareHandler } from 'hono'
import type { Clock } from '../../deps.ts'
import type { AppEnv } from '../../env.ts'
import { problems } from '../../errors/problem.ts'
import type { Authenticator } from '../auth/authenticator.ts'
import type { BucketSpec, BucketStore } from './bucket-store.ts'
import { clientAddress, parseRanges } from './client-address.ts'

export { MemoryBucketStore, type BucketSpec, type BucketStore, type TakeResult } from './bucket-store.ts'
export { clientAddress, parseRanges } from './client-address.ts'

export interface RateLimitOptions {
  store: BucketStore
  clock: Clock
  /** Per-client bucket: capacity = burst, refill = requests per minute / 60. */
  client: BucketSpec
  /** One bucket shared by every request, protecting the process as a whole. */
  global: BucketSpec
  /** Requests with a valid key are limited per principal; others per client address. */
  authenticator: Authenticator
  peerAddress: (c: Context<AppEnv>) => string | undefined
  /** CIDR ranges whose `X-Forwarded-For` is believed. Default none. */
  trustedProxies?: string[]
  /** Paths never limited (probes and metrics). */
  exemptPaths?: string[]
}

/**
 * Token-bucket limiting per client plus one global bucket. Every limited response carries
 * `X-RateLimit-Limit` (bucket capacity), `X-RateLimit-Remaining` and `X-RateLimit-Reset` (unix seconds
 * when the bucket is full again); a 429 adds `Retry-After`.
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const { store, clock, client, global, authenticator, peerAddress } = options
  const trusted = parseRanges(options.trustedProxies ?? [])
  const exempt = new Set(options.exemptPaths ?? [])
  const limit = String(client.capacity)

  return async function rateLimitMiddleware(c, next) {
    if (exempt.has(c.req.path)) return next()
    const headers = c.req.raw.headers
    const authorization = headers.get('authorization')
    // A key seen before is answered from the cache without a promise; each `await` costs a microtask turn.
    const known = authenticator.cached(authorization)
    const principal = known !== undefined ? known : await authenticator.verify(authorization)
    const key = principal
      ? `u:${principal.id}`
      : `ip:${clientAddress(peerAddress(c), headers.get('x-forwarded-for'), trusted)}`

    const taken = store.take(key, client)
    const perClient = taken instanceof Promise ? await taken : taken
    const bag = c.get('responseHeaders')
    bag['x-ratelimit-limit'] = limit
    bag['x-ratelimit-remaining'] = String(perClient.remaining)
    bag['x-ratelimit-reset'] = String(Math.ceil((clock.now() + perClient.resetMs) / 1000))
    if (!perClient.allowed) throw problems.tooManyRequests(Math.max(1, Math.ceil(perClient.retryAfterMs / 1000)))

    const takenGlobal = store.take('global', global)
    const shared = takenGlobal instanceof Promise ? await takenGlobal : takenGlobal
    if (!shared.allowed) throw problems.tooManyRequests(Math.max(1, Math.ceil(shared.retryAfterMs / 1000)))
    await next()
  }
}
