import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Config } from '../config/index.ts'
import type { EventBus, PersistenceEvents } from '../events/index.ts'
import type { Clock } from '../kernel/clock.ts'
import type { RedisAdapters } from '../redis/index.ts'

/**
 * The shared adapters when `redis.url` (`REDIS_URL`) is set, else undefined (everything stays in
 * this process). Imported dynamically, so the Workers bundle never loads the Redis client. Waits at
 * most `redis.connect_timeout` for Redis: a server that starts without it serves degraded (503 for
 * new generations, local rate limits, `/health` 503) and recovers when Redis comes.
 */
export async function openRedis(
  config: Config,
  deps: { logger: Logger; clock: Clock; metrics: Registry; events: EventBus<PersistenceEvents> },
): Promise<RedisAdapters | undefined> {
  if (!config.redis.url) return undefined
  const { createRedisAdapters, redisPortFromConfig, whenConnected } = await import('../redis/index.ts')
  const port = redisPortFromConfig(config, deps.logger)
  if (!(await whenConnected(port, config.redis.connect_timeout, deps.clock))) {
    deps.logger.warn({ timeout_ms: config.redis.connect_timeout }, 'redis is not reachable yet; serving degraded until it is')
  }
  return createRedisAdapters({ config, port, events: deps.events, clock: deps.clock, logger: deps.logger, registry: deps.metrics })
}

/** What `buildDeps` takes from the adapters. */
export function redisDeps(redis: RedisAdapters | undefined) {
  if (!redis) return {}
  return { rateLimitStore: redis.rateLimitStore, jobs: redis.jobs, sharedEvents: redis.shared }
}
