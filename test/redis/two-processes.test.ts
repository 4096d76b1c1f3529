import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { events, readFrames } from '../chat/helpers.ts'
import { AUTH, KEYS } from '../helpers/app.ts'
import { startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { startRedis, type RedisServer } from '../helpers/redis-server.ts'

const LONG = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ')

/**
 * Two Node server processes with REDIS_URL and nothing else in common: each has its own in-memory
 * conversation store, so what works across them works through Redis alone.
 */
describe('two server processes sharing only Redis', () => {
  let redis: RedisServer
  const servers: ServerProcess[] = []
  const url = (server: ServerProcess, path: string) => `http://127.0.0.1:${server.port}/api/v1${path}`
  const post = (server: ServerProcess, path: string, body: unknown, user: keyof typeof AUTH = 'alice') =>
    fetch(url(server, path), { method: 'POST', headers: { ...AUTH[user], 'content-type': 'application/json' }, body: JSON.stringify(body) })

  before(async () => {
    redis = await startRedis()
    // This suite is about the shared burst; the rest is the shipped configuration.
    const env = { REDIS_URL: redis.url, API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`, RATE_LIMIT_BURST: '6' }
    servers.push(await startServerProcess({ env }), await startServerProcess({ env }))
  })
  after(async () => {
    for (const server of servers) await server.stop()
    await redis?.stop()
  })

  it('report Redis in /health', async () => {
    for (const server of servers) {
      const res = await fetch(`http://127.0.0.1:${server.port}/health`)
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as { dependencies: Record<string, string> }).dependencies.redis, 'connected')
    }
  })

  it('resume on the second process a stream the first one runs, from Last-Event-ID, to the end', async () => {
    const [first, second] = servers
    const res = await post(first, '/chat/stream', { message: LONG })
    assert.equal(res.status, 200)
    const conversationId = res.headers.get('x-conversation-id')!
    const head = await readFrames(res, { stop: (frames) => events(frames).length >= 3, cancel: true })
    const resumed = await fetch(url(second, `/conversations/${conversationId}/stream`), { headers: { ...AUTH.alice, 'last-event-id': events(head).at(-1)!.id! } })
    assert.equal(resumed.status, 200)
    const rest = await readFrames(resumed, { stop: (frames) => events(frames).some((f) => f.event === 'done'), timeoutMs: 10_000 })
    const text = [...events(head), ...events(rest)].filter((f) => f.event === 'message').map((f) => JSON.parse(f.data!).delta).join('')
    // The built-in model's whole reply, exactly once: nothing lost or repeated between the two reads.
    assert.ok(text.startsWith(`You said: "${LONG}". I am the built-in development model`), text)
    assert.ok(text.endsWith('for real answers.'), text)
    const ids = [...events(head), ...events(rest)].map((f) => Number(f.id))
    assert.deepEqual(ids, [...new Set(ids)].sort((x, y) => x - y))
    const foreign = await fetch(url(second, `/conversations/${conversationId}/stream`), { headers: AUTH.bob })
    assert.equal(foreign.status, 404, "another user's job looks like a missing conversation")
  })

  it('stop on the second process a generation the first one runs; its end reads stopped', async () => {
    const [first, second] = servers
    const res = await post(first, '/chat/stream', { message: LONG })
    const conversationId = res.headers.get('x-conversation-id')!
    const reading = readFrames(res, { stop: (frames) => events(frames).some((f) => f.event === 'done'), timeoutMs: 10_000 })
    const stop = await post(second, `/conversations/${conversationId}/stop`, {})
    assert.equal(stop.status, 202)
    const done = events(await reading).find((f) => f.event === 'done')!
    assert.equal(JSON.parse(done.data!).status, 'stopped')
  })

  it('share the rate limit: a burst of 6 split across both lets through at most 6 or 7', async () => {
    const statuses: number[] = []
    const responses: Response[] = []
    // Without a key, so the bucket is the client address's (127.0.0.1 on both), which no other test used.
    for (let i = 0; i < 12; i++) {
      const res = await fetch(url(servers[i % 2], '/me'))
      await res.arrayBuffer()
      responses.push(res)
      statuses.push(res.status)
    }
    const passed = statuses.filter((s) => s !== 429).length
    assert.ok(passed >= 6 && passed <= 7, `passed ${passed}: ${statuses}`)
    // The headers are the single-instance ones, counted across both processes.
    assert.deepEqual(responses.slice(0, 3).map((r) => [r.headers.get('x-ratelimit-limit'), r.headers.get('x-ratelimit-remaining')]), [['6', '5'], ['6', '4'], ['6', '3']])
    const refused = responses.find((r) => r.status === 429)!
    assert.ok(Number(refused.headers.get('retry-after')) >= 1)
    assert.ok(Number(refused.headers.get('x-ratelimit-reset')) * 1000 > Date.now())
  })
})
