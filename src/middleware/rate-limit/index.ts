import type { Context } from 'hono'
import type { AppEnv, Principal } from '../../env.ts'
import { problems } from '../../kernel/problem.ts'
import { defineMiddleware, type RequestScope, type StageMiddleware } from '../../pipeline/index.ts'
import type { Authenticator } from '../auth/authenticator.ts'
import type { Admission, BucketSpec, BucketStore } from './bucket-store.ts'
import { clientAddress, parseRanges } from './client-address.ts'

export { GLOBAL_BUCKET, MemoryBucketStore, type Admission, type BucketSpec, type BucketStore, type TakeResult } from './bucket-store.ts'
export { clientAddress, parseRanges } from './client-address.ts'

export interface RateLimitOptions {
  store: BucketStore
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
export function rateLimit(options: RateLimitOptions): StageMiddleware {
  const { store, client, global, authenticator, peerAddress } = options
  const trusted = parseRanges(options.trustedProxies ?? [])
  const exempt = new Set(options.exemptPaths ?? [])
  const limit = String(client.capacity)

  const limitClient = (c: Context<AppEnv>, scope: RequestScope, principal: Principal | null): void | Promise<void> => {
    // The key is verified here already: authentication, which runs later, takes the principal as is.
    if (principal) c.set('user', principal)
    const key = principal
      ? `u:${principal.id}`
      : `ip:${clientAddress(peerAddress(c), c.req.raw.headers.get('x-forwarded-for'), trusted)}`
    const admission = store.admit(key, client, global)
    return admission instanceof Promise ? admission.then((result) => admit(scope, result)) : admit(scope, admission)
  }
  const admit = (scope: RequestScope, { client: perClient, global: shared }: Admission): void => {
    scope.header('x-ratelimit-limit', limit)
    scope.header('x-ratelimit-remaining', String(perClient.remaining))
    scope.header('x-ratelimit-reset', String(Math.ceil((perClient.at + perClient.resetMs) / 1000)))
    if (!perClient.allowed) throw problems.tooManyRequests(Math.max(1, Math.ceil(perClient.retryAfterMs / 1000)))
    if (shared && !shared.allowed) throw problems.tooManyRequests(Math.max(1, Math.ceil(shared.retryAfterMs / 1000)))
  }

  return defineMiddleware({
    name: 'rateLimit',
    // Synchronous while the key is cached and the store answers at once (the in-memory one): a
    // promise only where there is real waiting.
    before: (c, scope) => {
      if (exempt.has(c.req.path)) return
      const authorization = c.req.raw.headers.get('authorization')
      const known = authenticator.cached(authorization)
      if (known !== undefined) return limitClient(c, scope, known)
      return authenticator.verify(authorization).then((principal) => limitClient(c, scope, principal))
    },
  })
}
