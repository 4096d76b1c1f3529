import { EventBus, type PersistenceEvents } from '../../src/events/index.ts'
import { createInMemoryJobManager } from '../../src/features/chat/index.ts'
import { systemClock } from '../../src/kernel/clock.ts'
import { MemoryBucketStore } from '../../src/middleware/rate-limit/index.ts'
import { createRedisJobManager, createRedisPort, RedisBucketStore, RedisEventRelay, type RedisPort } from '../../src/redis/index.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { describeSharedStateContract } from './shared-state.contract.ts'

describeSharedStateContract('in-process', async () => {
  const jobs = createInMemoryJobManager()
  const buckets = new MemoryBucketStore({ clock: systemClock })
  const bus = new EventBus<PersistenceEvents>()
  return { jobs: { a: jobs, b: jobs }, buckets: { a: buckets, b: buckets }, bus: { a: bus, b: bus }, cleanup: async () => jobs.close() }
})

/** One instance's Redis adapters at the shipped defaults (config/defaults.ts). */
function instance(url: string) {
  const port: RedisPort = createRedisPort({ url, keyPrefix: 'assistant:', connectTimeoutMs: 2_000, commandTimeoutMs: 1_000, reconnectMaxDelayMs: 2_000, maxQueuedCommands: 10_000 })
  const jobs = createRedisJobManager({ redis: port, clock: systemClock, retentionMs: 5 * 60_000, ttlMs: 30_000, maxLen: 10_000, coalesceMs: 25 })
  const bus = new EventBus<PersistenceEvents>()
  const relay = new RedisEventRelay({ redis: port, bus, instanceId: jobs.instanceId })
  return { port, jobs, bus, relay, buckets: new RedisBucketStore(port, { timeoutMs: 75 }) }
}

describeSharedStateContract('redis', async () => {
  const server = await startRedis()
  const a = instance(server.url)
  const b = instance(server.url)
  const deadline = Date.now() + 5_000
  while (!(a.port.connected && b.port.connected) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  return {
    jobs: { a: a.jobs, b: b.jobs },
    buckets: { a: a.buckets, b: b.buckets },
    bus: { a: a.bus, b: b.bus, sharedB: b.relay },
    async cleanup() {
      for (const each of [a, b]) {
        await each.jobs.close()
        each.relay.close()
        await each.port.close()
      }
      await server.stop()
    },
  }
})
