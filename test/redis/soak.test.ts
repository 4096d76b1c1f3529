import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMemoryStores } from '../../src/storage/memory/index.ts'
import { answeredConversations, events, heldProvider, readFrames, timers } from '../chat/helpers.ts'
import { eventually, startInstance } from '../helpers/instances.ts'
import { keysWithTtl, startRedis } from '../helpers/redis-server.ts'

describe('aborted streams through Redis', () => {
  it('1,000 streams hung up on A (half also resumed and hung up on B) leave no stream, no key without TTL, no listener or timer', async () => {
    const redis = await startRedis()
    const stores = createMemoryStores({ clock: { now: () => Date.now() } })
    const held = heldProvider()
    // Retention 0: the test is about what is left once every job has ended.
    // One user holds 1,000 generations at once, which the per-user cap and start budget exist to
    // refuse: this test is about what aborted streams leave behind, so both are lifted.
    const env = { CHAT_JOB_RETENTION: '0', CHAT_HEARTBEAT_INTERVAL: '1s', CHAT_MAX_ACTIVE_PER_USER: '0', CHAT_START_BURST: '100000' }
    const a = await startInstance(redis.url, stores, { env, provider: held.provider })
    const b = await startInstance(redis.url, stores, { env })
    try {
      const baseline = timers()
      const conversations = new Set<string>()
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const res = await a.post('/chat/stream', { message: `abort me number ${batch * 100 + i}` })
            assert.equal(res.status, 200)
            const id = res.headers.get('x-conversation-id')!
            conversations.add(id)
            await readFrames(res, { stop: (f) => events(f).length >= 1, cancel: true, timeoutMs: 10_000 })
            if (i % 2) return
            const resumed = await b.get(`/conversations/${id}/stream`)
            const frames = await readFrames(resumed, { stop: (f) => events(f).length >= 1, cancel: true, timeoutMs: 10_000 })
            assert.equal(JSON.parse(events(frames)[0].data!).delta, 'first ')
          }),
        )
      }
      assert.equal(conversations.size, 1_000)
      await eventually(() => a.deps.chat.jobs.stats().listeners === 0 && b.deps.chat.jobs.stats().listeners === 0, 'every reader to detach')
      assert.equal(a.deps.chat.jobs.stats().running, 1_000, 'the jobs outlive their readers')
      held.release()
      await eventually(() => a.deps.chat.jobs.stats().running === 0, 'every job to end', 30_000)
      await eventually(async () => (await keysWithTtl(redis)).every(({ key }) => !key.includes(':log:') && !key.endsWith(':job')), 'the logs and records to go', 10_000)
      const keys = await keysWithTtl(redis)
      assert.deepEqual(keys.filter(({ pttl }) => pttl < 0), [], 'every key left has a TTL')
      assert.deepEqual(a.deps.chat.jobs.stats(), { jobs: 0, running: 0, listeners: 0 })
      assert.deepEqual(b.deps.chat.jobs.stats(), { jobs: 0, running: 0, listeners: 0 })
      // Each instance listens on its own stop channel only.
      assert.equal(a.redis.port.channelListeners, 1)
      assert.equal(b.redis.port.channelListeners, 1)
      await eventually(() => timers() <= baseline, `timers back to baseline (${timers()} vs ${baseline})`)
      assert.equal(await answeredConversations(stores.conversations, 'alice'), 1_000, 'each job ran to completion and saved its reply')
    } finally {
      await a.close()
      await b.close()
      await redis.stop()
    }
  })
})
