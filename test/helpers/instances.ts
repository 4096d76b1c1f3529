import { Registry } from 'prom-client'
import { createWSMessageEvent } from 'hono/ws'
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config/index.ts'
import { buildDeps } from '../../src/deps.ts'
import { EventBus, type PersistenceEvents } from '../../src/events/index.ts'
import { systemClock } from '../../src/kernel/clock.ts'
import { createRedisAdapters, redisPortFromConfig, whenConnected, type RedisPort } from '../../src/redis/index.ts'
import { redisDeps } from '../../src/runtimes/redis.ts'
import type { ChatProvider } from '../../src/providers/ports.ts'
import type { Stores } from '../../src/storage/ports.ts'
import { AUTH, KEYS, memoryLogger } from './app.ts'
import { fakeSocket } from './ws-context.ts'

export type Instance = Awaited<ReturnType<typeof startInstance>>

/**
 * One app instance as an entrypoint builds it with `REDIS_URL` set: its own Redis connections,
 * job manager, hub, bus and bucket store; only `stores` (the stand-in for the shared MongoDB) is
 * shared with other instances. Shipped defaults apart from `env`, and rate limiting off unless `env`
 * turns it on (as `testApp` does: the suites make more requests per client than a burst).
 */
export interface InstanceOptions {
  env?: Record<string, string>
  /** Default: the built-in model, as shipped. */
  provider?: ChatProvider
  /** Wraps the Redis port (e.g. to count or fail commands). */
  wrap?: (port: RedisPort) => RedisPort
}

export async function startInstance(redisUrl: string, stores: Stores, options: InstanceOptions = {}) {
  const { env = {}, wrap } = options
  const config = await loadConfig({ env: { API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`, REDIS_URL: redisUrl, RATE_LIMIT_ENABLED: 'false', ...env } })
  const { logger, lines } = memoryLogger()
  const metrics = new Registry()
  const events = new EventBus<PersistenceEvents>()
  const port = wrap ? wrap(redisPortFromConfig(config, logger)) : redisPortFromConfig(config, logger)
  await whenConnected(port, 5_000, systemClock)
  const redis = createRedisAdapters({ config, port, events, clock: systemClock, logger, registry: metrics })
  // The shared stores are not this instance's to close.
  const deps = buildDeps({ config, logger, stores: { ...stores, close: async () => {} }, metrics, events, provider: options.provider, ...redisDeps(redis) })
  deps.health.register(redis.health)
  deps.lifecycle.markReady()
  const app = createApp(deps)
  const post = (path: string, body: unknown, user: keyof typeof AUTH = 'alice', headers: Record<string, string> = {}) =>
    app.request(`/api/v1${path}`, { method: 'POST', headers: { ...AUTH[user], 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const get = (path: string, user: keyof typeof AUTH = 'alice', headers: Record<string, string> = {}) => app.request(`/api/v1${path}`, { headers: { ...AUTH[user], ...headers } })
  const connect = (userId: 'alice' | 'bob') => {
    const socket = fakeSocket()
    const connection = deps.hub.connect({ id: userId })
    connection.onOpen?.(new Event('open'), socket.ws)
    return { ...socket, send: (frame: unknown) => connection.onMessage?.(createWSMessageEvent(JSON.stringify(frame)), socket.ws) }
  }
  return {
    app,
    deps,
    redis,
    lines,
    post,
    get,
    connect,
    async close() {
      deps.hub.close()
      await deps.chat.jobs.close()
      await redis.close()
    },
  }
}

/** Waits (bounded) until `check()` holds; async checks allowed. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
