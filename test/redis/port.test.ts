import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { systemClock } from '../../src/kernel/clock.ts'
import { MemoryBucketStore } from '../../src/middleware/rate-limit/index.ts'
import { createRedisPort, FallbackBucketStore, LuaScript, RedisBucketStore, whenConnected, type RedisPort } from '../../src/redis/index.ts'
import { memoryLogger } from '../helpers/app.ts'
import { startRedis, type RedisServer } from '../helpers/redis-server.ts'

const ECHO = new LuaScript("return {KEYS[1], ARGV[1]}")

/** A port at the shipped defaults (config/defaults.ts). */
async function portTo(server: RedisServer): Promise<RedisPort> {
  const port = createRedisPort({ url: server.url, keyPrefix: 'assistant:', connectTimeoutMs: 2_000, commandTimeoutMs: 1_000, reconnectMaxDelayMs: 2_000, maxQueuedCommands: 10_000 })
  assert.equal(await whenConnected(port, 5_000, systemClock), true)
  return port
}

describe('the Redis port', () => {
  const servers: RedisServer[] = []
  const ports: RedisPort[] = []
  after(async () => {
    for (const port of ports) await port.close()
    for (const server of servers) await server.stop()
  })
  async function open(args: string[] = []) {
    const server = await startRedis(args)
    servers.push(server)
    const port = await portTo(server)
    ports.push(port)
    return { server, port }
  }

  it('runs a script with EVALSHA, and again with EVAL once the server forgot it', async () => {
    const { server, port } = await open()
    assert.deepEqual(await port.eval(ECHO, ['k'], ['v']), ['k', 'v'])
    await server.command('SCRIPT', 'FLUSH')
    assert.deepEqual(await port.eval(ECHO, ['k'], ['w']), ['k', 'w'])
  })

  it('runs scripts with EVAL where EVALSHA is refused (as by proxies that block SCRIPT)', async () => {
    const { port } = await open(['--rename-command', 'EVALSHA', ''])
    assert.deepEqual(await port.eval(ECHO, ['k'], ['v']), ['k', 'v'])
  })

  it('fails commands at once while Redis is down (no offline queue), and reconnects by itself', async () => {
    const { server, port } = await open()
    const changes: boolean[] = []
    port.onConnectionChange((connected) => changes.push(connected))
    await server.kill()
    const deadline = Date.now() + 5_000
    while (port.connected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    const started = performance.now()
    await assert.rejects(port.command(['PING']))
    assert.ok(performance.now() - started < 100, 'rejected without waiting')
    await server.restart()
    assert.equal(await whenConnected(port, 5_000, systemClock), true)
    assert.equal(await port.command(['PING']), 'PONG')
    assert.deepEqual(changes, [false, true])
  })

  it('rate limits answer from local buckets within the call timeout when Redis stalls, and say so', async () => {
    const { server, port } = await open()
    const { logger, lines } = memoryLogger()
    const store = new FallbackBucketStore({ shared: new RedisBucketStore(port, { timeoutMs: 75 }), clock: systemClock, instances: 2, logger })
    const client = { capacity: 4, refillPerSecond: 0.001 }
    const global = { capacity: 100, refillPerSecond: 100 }
    assert.equal((await store.admit('u:x', client, global)).client.allowed, true)
    assert.equal(store.local, false)
    // Another client stalls the server for a second.
    void server.command('CLIENT', 'PAUSE', '1000', 'ALL')
    await new Promise((resolve) => setTimeout(resolve, 20))
    const started = performance.now()
    const stalled = await store.admit('u:x', client, global)
    assert.ok(performance.now() - started < 300, `answered in ${performance.now() - started} ms`)
    assert.equal(store.local, true)
    assert.equal(stalled.client.allowed, true)
    // Local buckets hold capacity / instances: 2, one of them just spent.
    assert.equal((await store.admit('u:x', client, global)).client.allowed, true)
    assert.equal((await store.admit('u:x', client, global)).client.allowed, false)
    assert.ok(lines.some((line) => line.level === 40 && String(line.msg).startsWith('rate limits are local')))
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await store.admit('u:y', client, global)
    assert.equal(store.local, false)
    assert.ok(lines.some((line) => line.msg === 'rate limits are shared through Redis again'))
  })

  it('shares one bucket between two ports: the Lua script is atomic across connections', async () => {
    const { server, port } = await open()
    const other = await portTo(server)
    ports.push(other)
    const stores = [new RedisBucketStore(port, { timeoutMs: 75 }), new RedisBucketStore(other, { timeoutMs: 75 })]
    const spec = { capacity: 20, refillPerSecond: 0.001 }
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2].take('u:shared', spec)))
    assert.equal(results.filter((r) => r.allowed).length, 20)
    const pttl = (await server.command('PTTL', 'assistant:{rl}:u:shared')) as number
    assert.ok(pttl > 0, 'the bucket expires')
  })

  it('the memory adapter answers the same admission as the Redis one', async () => {
    const { port } = await open()
    const memory = new MemoryBucketStore({ clock: systemClock })
    const shared = new RedisBucketStore(port, { timeoutMs: 75 })
    const spec = { capacity: 3, refillPerSecond: 1 }
    const global = { capacity: 10, refillPerSecond: 10 }
    for (let i = 0; i < 5; i++) {
      const [m, r] = [memory.admit('k', spec, global), await shared.admit('k', spec, global)]
      assert.deepEqual([m.client.allowed, m.client.remaining, m.global?.allowed], [r.client.allowed, r.client.remaining, r.global?.allowed])
    }
  })
})
