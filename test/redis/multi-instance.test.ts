import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createMemoryStores } from '../../src/storage/memory/index.ts'
import { events, readFrames, type Frame } from '../chat/helpers.ts'
import { eventually, startInstance, type Instance } from '../helpers/instances.ts'
import { startRedis, type RedisServer } from '../helpers/redis-server.ts'

/** A message the built-in model answers in about 60 words, one 15 ms chunk each: a generation of about a second. */
const LONG = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ')

const deltas = (frames: Frame[]) => events(frames).filter((f) => f.event === 'message').map((f) => JSON.parse(f.data!).delta as string).join('')

async function savedReply(stores: ReturnType<typeof createMemoryStores>, user: string, conversationId: string) {
  const page = await stores.conversations.listMessages(user, conversationId, { limit: 100 })
  return page!.items.filter((m) => m.role === 'assistant').at(-1)
}

describe('two instances sharing one Redis', () => {
  let redis: RedisServer
  let a: Instance
  let b: Instance
  const stores = createMemoryStores({ clock: { now: () => Date.now() } })

  before(async () => {
    redis = await startRedis()
    a = await startInstance(redis.url, stores)
    b = await startInstance(redis.url, stores)
  })
  after(async () => {
    await a?.close()
    await b?.close()
    await redis?.stop()
  })

  async function startOnA(message = LONG) {
    const res = await a.post('/chat/stream', { message })
    assert.equal(res.status, 200)
    const conversationId = res.headers.get('x-conversation-id')!
    return { res, conversationId }
  }

  it('resumes on B, from Last-Event-ID, a stream started on A: nothing lost or repeated against the saved reply', async () => {
    const { res, conversationId } = await startOnA()
    const first = await readFrames(res, { stop: (frames) => events(frames).length >= 3, cancel: true })
    const lastId = events(first).at(-1)!.id!
    const resumed = await b.get(`/conversations/${conversationId}/stream`, 'alice', { 'last-event-id': lastId })
    assert.equal(resumed.status, 200)
    const rest = await readFrames(resumed, { stop: (frames) => events(frames).some((f) => f.event === 'done'), timeoutMs: 10_000 })
    const ids = [...events(first), ...events(rest)].map((f) => Number(f.id))
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'ids increase')
    assert.equal(new Set(ids).size, ids.length, 'no id twice')
    const saved = await savedReply(stores, 'alice', conversationId)
    assert.equal(deltas(first) + deltas(rest), saved!.content)
    assert.equal(saved!.status, 'complete')
  })

  it('long-polls on B a generation running on A until done, with the same text', async () => {
    const { res, conversationId } = await startOnA()
    await res.body!.cancel()
    let after = 0
    let text = ''
    for (let polls = 0; polls < 200; polls++) {
      const page = (await (await b.get(`/conversations/${conversationId}/events?after=${after}`)).json()) as {
        events: { id: number; event: string; data: { delta?: string } }[]
        next_after: number
        done: boolean
      }
      for (const event of page.events) {
        assert.equal(event.id > after, true)
        if (event.event === 'message') text += event.data.delta
      }
      after = page.next_after
      if (page.done) break
    }
    const saved = await savedReply(stores, 'alice', conversationId)
    assert.equal(text, saved!.content)
  })

  it('stops on B a generation running on A; the partial reply is saved as stopped', async () => {
    const { res, conversationId } = await startOnA()
    await readFrames(res, { stop: (frames) => events(frames).length >= 2, cancel: true })
    const stop = await b.post(`/conversations/${conversationId}/stop`, {})
    assert.equal(stop.status, 202)
    await eventually(async () => (await savedReply(stores, 'alice', conversationId))?.status === 'stopped', 'the stopped reply')
    const saved = await savedReply(stores, 'alice', conversationId)
    assert.ok(saved!.content.length < 'You said: '.length + LONG.length)
    assert.equal((await b.post(`/conversations/${conversationId}/stop`, {})).status, 404, 'nothing left to stop')
    assert.equal((await b.post(`/conversations/${conversationId}/stop`, {}, 'bob')).status, 404)
  })

  it('refuses on B (409) a second generation in a conversation A is generating in', async () => {
    const { res, conversationId } = await startOnA()
    const second = await b.post('/chat/stream', { message: 'again', conversation_id: conversationId })
    assert.equal(second.status, 409)
    await readFrames(res, { stop: (frames) => events(frames).some((f) => f.event === 'done'), timeoutMs: 10_000 })
  })

  it('delivers to WebSocket subscribers on B the messages saved through A, and never to another user', async () => {
    const conversation = await (await a.post('/conversations', { title: 'fan-out' })).json() as { id: string }
    const alice = b.connect('alice')
    const bob = b.connect('bob')
    alice.send({ type: 'subscribe', conversation_id: conversation.id })
    bob.send({ type: 'subscribe', conversation_id: conversation.id })
    await eventually(() => alice.sent.length === 1 && bob.sent.length === 1, 'both answers')
    assert.equal(bob.sent[0].code, 'not_found')
    // The relay subscribes asynchronously; give it a moment before the save.
    await eventually(() => b.redis.shared.watching === 1, 'the watch')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const res = await a.post('/chat', { message: 'hello across', conversation_id: conversation.id })
    assert.equal(res.status, 200)
    await eventually(() => alice.sent.filter((f) => f.type === 'message').length === 2, 'the user message and the reply on B')
    const roles = alice.sent.filter((f) => f.type === 'message').map((f) => f.message.role)
    assert.deepEqual(roles, ['user', 'assistant'])
    assert.equal(bob.sent.length, 1, "nothing of Alice's reaches Bob")
    alice.send({ type: 'unsubscribe', conversation_id: conversation.id })
    await eventually(() => b.redis.shared.watching === 0, 'the last subscriber gone, the channel released')
  })

  it('shares the rate limit: a burst of 6 split across A and B lets through at most 6 or 7', async () => {
    // This test is about the burst, so it sets one, with limiting on as shipped.
    const limitedA = await startInstance(redis.url, stores, { env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '6' } })
    const limitedB = await startInstance(redis.url, stores, { env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '6' } })
    try {
      const statuses = []
      for (let i = 0; i < 12; i++) statuses.push((await (i % 2 ? limitedB : limitedA).get('/conversations', 'bob')).status)
      const passed = statuses.filter((s) => s === 200).length
      assert.ok(passed >= 6 && passed <= 7, `passed ${passed}: ${statuses}`)
      assert.ok(statuses.includes(429))
    } finally {
      await limitedA.close()
      await limitedB.close()
    }
  })

  it('survives Redis being killed and restarted: no hang over 5 s, /health 503, local limits said, then recovery by itself', async () => {
    // Limiting on, for the fallback: 2 instances share the burst of 6, so each allows 3 alone.
    const limited = await startInstance(redis.url, stores, { env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_BURST: '6', RATE_LIMIT_INSTANCES: '2' } })
    const conversation = (await (await a.post('/conversations', { title: 'across the outage' })).json()) as { id: string }
    const alice = b.connect('alice')
    alice.send({ type: 'subscribe', conversation_id: conversation.id })
    await eventually(() => alice.sent.length === 1 && b.redis.shared.watching === 1, 'the subscription on B')
    try {
      await redis.kill()
      const started = Date.now()
      await eventually(async () => (await a.app.request('/health')).status === 503, '/health 503 on A')
      const health = (await (await b.app.request('/health')).json()) as { dependencies: Record<string, string> }
      assert.equal(health.dependencies.redis, 'disconnected')
      const refused = await a.post('/chat/stream', { message: 'while down' })
      assert.equal(refused.status, 503)
      assert.ok(refused.headers.get('retry-after'))
      const listed = await b.get('/conversations')
      assert.equal(listed.status, 200, 'what needs no Redis keeps working')
      const statuses = []
      for (let i = 0; i < 5; i++) statuses.push((await limited.get('/conversations', 'bob')).status)
      assert.deepEqual(statuses, [200, 200, 200, 429, 429], 'local buckets with the burst divided by RATE_LIMIT_INSTANCES')
      assert.ok(limited.lines.some((line) => String(line.msg).startsWith('rate limits are local')))
      assert.match(await (await limited.app.request('/metrics')).text(), /^rate_limit_shared 0$/m)
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`)

      await redis.restart()
      await eventually(async () => (await a.app.request('/health')).status === 200 && (await b.app.request('/health')).status === 200, 'recovery', 10_000)
      const { res, conversationId } = await startOnA('back again')
      await readFrames(res, { stop: (frames) => events(frames).some((f) => f.event === 'done') })
      const replay = await b.get(`/conversations/${conversationId}/stream`)
      const frames = await readFrames(replay, { stop: (f) => events(f).some((e) => e.event === 'done') })
      assert.match(deltas(frames), /back again/)
      // The subscription made before the outage was restored with the connection.
      assert.equal((await a.post('/chat', { message: 'after the outage', conversation_id: conversation.id })).status, 200)
      await eventually(() => alice.sent.filter((f) => f.type === 'message').length === 2, 'the fan-out after the reconnect')
      await eventually(async () => (await limited.get('/conversations', 'alice')).status === 200 && limited.lines.some((line) => line.msg === 'rate limits are shared through Redis again'), 'shared limits again')
    } finally {
      await limited.close()
    }
  })
})
