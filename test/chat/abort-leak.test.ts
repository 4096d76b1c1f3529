import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { answeredConversations, chatApp, events, heldProvider, readFrames, timers, until } from './helpers.ts'

describe('aborted streams', () => {
  it('1,000 clients that hang up mid-stream leave no listeners, timers, streams or jobs behind, and every reply is persisted', async () => {
    const held = heldProvider()
    const { post, chat, stores } = await chatApp({
      provider: held.provider,
      // One user holds 1,000 generations at once here, which the per-user cap and start budget exist
      // to refuse: this test is about what aborted streams leave behind, so both are lifted.
      env: { CHAT_JOB_RETENTION: '0', CHAT_HEARTBEAT_INTERVAL: '1s', CHAT_MAX_ACTIVE_PER_USER: '0', CHAT_START_BURST: '100000' },
    })
    const baseline = timers()
    const conversationIds = new Set<string>()
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const res = await post('/chat/stream', { message: `abort me number ${batch * 100 + i}` })
          conversationIds.add(res.headers.get('x-conversation-id')!)
          const frames = await readFrames(res, { stop: (f) => events(f).length >= 1, cancel: true })
          assert.equal(events(frames)[0].event, 'message')
        }),
      )
    }
    assert.equal(conversationIds.size, 1_000)
    // Every client is gone, every job still runs.
    await until(() => chat.counters.open === 0, 'the SSE responses to close')
    assert.deepEqual(chat.jobs.stats(), { jobs: 1_000, running: 1_000, listeners: 0 })
    held.release()
    await until(() => chat.jobs.stats().running === 0 && chat.counters.open === 0, 'all jobs and streams to end', 20_000)
    assert.deepEqual(chat.jobs.stats(), { jobs: 0, running: 0, listeners: 0 })
    assert.equal(chat.counters.open, 0, 'open SSE responses')
    assert.ok(timers() <= baseline, `timers back to baseline (${timers()} vs ${baseline})`)

    assert.equal(await answeredConversations(stores.conversations, 'alice'), 1_000, 'each job ran to completion and saved its reply')
  })
})
