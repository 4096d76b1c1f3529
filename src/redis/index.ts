import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Config } from '../config/index.ts'
import type { EventBus, PersistenceEvents } from '../events/index.ts'
import type { Clock } from '../kernel/clock.ts'
import type { HealthCheck } from '../kernel/health.ts'
import { FallbackBucketStore, RedisBucketStore } from './bucket-store.ts'
import { createRedisPort, type RedisPort } from './client.ts'
import { RedisEventRelay } from './event-relay.ts'
import { redisHealthCheck } from './health.ts'
import { createRedisJobManager, type RedisJobManager } from './jobs/manager.ts'

export { FallbackBucketStore, RedisBucketStore } from './bucket-store.ts'
export { createRedisPort, LuaScript, type MessageListener, type RedisClientOptions, type RedisPort } from './client.ts'
export { RedisEventRelay } from './event-relay.ts'
export { redisHealthCheck } from './health.ts'
export { createRedisJobManager, type RedisJobManager, type RedisJobManagerOptions } from './jobs/manager.ts'

/** The Redis port from `config.redis`; connecting starts at once and never blocks. */
export function redisPortFromConfig(config: Config, logger?: Logger): RedisPort {
  const { redis } = config
  if (!redis.url) throw new Error('redis.url (REDIS_URL) is not set')
  return createRedisPort({
    url: redis.url,
    keyPrefix: redis.key_prefix,
    connectTimeoutMs: redis.connect_timeout,
    commandTimeoutMs: redis.command_timeout,
    reconnectMaxDelayMs: redis.reconnect_max_delay,
    maxQueuedCommands: redis.max_queued_commands,
    logger,
  })
}

/** Everything several instances share, built on one Redis port. */
export interface RedisAdapters {
  port: RedisPort
  rateLimitStore: FallbackBucketStore
  jobs: RedisJobManager
  shared: RedisEventRelay
  health: HealthCheck
  /** Closes the relay and the connections; close `jobs` first (their ends are written). */
  close(): Promise<void>
}

export interface RedisAdaptersOptions {
  config: Config
  port: RedisPort
  /** The bus the app's persistence events go through (`AppDeps.events`). */
  events: EventBus<PersistenceEvents>
  clock: Clock
  logger?: Logger
  registry?: Registry
}

export function createRedisAdapters(options: RedisAdaptersOptions): RedisAdapters {
  const { config, port, clock, logger } = options
  const jobs = createRedisJobManager({
    redis: port,
    clock,
    logger,
    retentionMs: config.chat.job_retention,
    ttlMs: config.redis.job_ttl,
    maxLen: config.redis.stream_max_len,
    coalesceMs: config.redis.coalesce_window,
  })
  const shared = new RedisEventRelay({ redis: port, bus: options.events, instanceId: jobs.instanceId, logger })
  const rateLimitStore = new FallbackBucketStore({
    shared: new RedisBucketStore(port, { timeoutMs: config.redis.rate_limit_timeout }),
    clock,
    instances: config.server.rate_limit.instances,
    logger,
    registry: options.registry,
  })
  return {
    port,
    rateLimitStore,
    jobs,
    shared,
    health: redisHealthCheck(port, config.redis.command_timeout),
    async close() {
      shared.close()
      await port.close()
    },
  }
}

/** Resolves once the port is connected or `timeoutMs` passed; true when connected. */
export function whenConnected(port: RedisPort, timeoutMs: number, clock: Clock): Promise<boolean> {
  if (port.connected) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => {
      detach()
      resolve(port.connected)
    }, timeoutMs, { unref: true })
    const detach = port.onConnectionChange((connected) => {
      if (!connected) return
      clock.clearTimeout(timer)
      detach()
      resolve(true)
    })
  })
}
