import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { events, readFrames } from '../chat/helpers.ts'
import { AUTH, KEYS } from '../helpers/app.ts'
import { startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { startRedis, type RedisServer } from '../helpers/redis-server.ts'
import { ROOT, scriptArgv } from '../helpers/runtimes.ts'

const BUN = join(ROOT, 'node_modules/.bin/bun')
const LONG = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ')

/** Frames a WebSocket client received, parsed. */
function collect(socket: WebSocket): Record<string, any>[] {
  const frames: Record<string, any>[] = []
  socket.addEventListener('message', (event) => frames.push(JSON.parse(String(event.data))))
  return frames
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * The Bun entrypoint with REDIS_URL next to a Node one. node-redis pub/sub that silently stopped
 * after a reconnect was reported on Bun, so the fan-out and the stop channel are checked again after
 * Redis is killed and restarted.
 */
describe('Bun with REDIS_URL, next to Node', () => {
  let redis: RedisServer
  let node: ServerProcess
  let bun: ServerProcess
  const base = (server: ServerProcess) => `http://127.0.0.1:${server.port}`
  const post = (server: ServerProcess, path: string, body: unknown) =>
    fetch(`${base(server)}/api/v1${path}`, { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: JSON.stringify(body) })

  before(async () => {
    assert.ok(existsSync(BUN), 'node_modules/.bin/bun is missing; run npm ci')
    redis = await startRedis()
    const env = { REDIS_URL: redis.url, API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`, RATE_LIMIT_ENABLED: 'false' }
    node = await startServerProcess({ env })
    bun = await startServerProcess({ env, argv: [BUN, 'run', 'src/runtimes/bun.ts'] })
  })
  after(async () => {
    await bun?.stop()
    await node?.stop()
    await redis?.stop()
  })

  /** A conversation under one id in both processes' own stores (the AI SDK body names it), one turn each. */
  async function conversationOnBoth(id: string) {
    for (const server of [bun, node]) {
      const res = await post(server, '/chat/stream', { id, messages: [{ id: `m-${server.port}`, role: 'user', parts: [{ type: 'text', text: 'hi' }] }] })
      assert.equal(res.status, 200)
      await res.text()
    }
  }

  /** Node's save reaches a WebSocket subscriber on Bun (pub/sub only); a stop from Node ends Bun's generation. */
  async function fanOutAndStop(id: string) {
    await conversationOnBoth(id)
    const socket = new WebSocket(`${base(bun).replace('http', 'ws')}/ws?token=${KEYS.alice}`)
    const frames = collect(socket)
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve, { once: true })
      socket.addEventListener('error', reject, { once: true })
    })
    try {
      socket.send(JSON.stringify({ type: 'subscribe', conversation_id: id }))
      await eventually(() => frames.some((f) => f.type === 'subscribed'), 'the subscription on Bun')
      // The relay's SUBSCRIBE is on its way; saves before it lands would not be heard.
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.equal((await post(node, '/chat', { message: 'hello from node', conversation_id: id })).status, 200)
      await eventually(() => frames.filter((f) => f.type === 'message').length === 2, "Node's two saved messages on Bun's socket")
    } finally {
      socket.close()
    }
    const started = await post(bun, '/chat/stream', { message: LONG })
    const running = started.headers.get('x-conversation-id')!
    const reading = readFrames(started, { stop: (f) => events(f).some((e) => e.event === 'done'), timeoutMs: 10_000 })
    assert.equal((await post(node, `/conversations/${running}/stop`, {})).status, 202)
    const done = events(await reading).find((f) => f.event === 'done')!
    assert.equal(JSON.parse(done.data!).status, 'stopped')
  }

  it('fans out to Bun and stops on Bun from Node, before and after Redis restarts', async () => {
    await fanOutAndStop('bun-before')
    await redis.kill()
    await eventually(async () => (await fetch(`${base(bun)}/health`)).status === 503, '/health 503 on Bun')
    await redis.restart()
    await eventually(async () => (await fetch(`${base(bun)}/health`)).status === 200 && (await fetch(`${base(node)}/health`)).status === 200, 'recovery on both')
    await fanOutAndStop('bun-after')
  })
})

describe('Deno with REDIS_URL, next to Node', () => {
  let redis: RedisServer
  let node: ServerProcess
  let deno: ServerProcess

  before(async () => {
    redis = await startRedis()
    const env = { REDIS_URL: redis.url, API_KEYS: `alice:${KEYS.alice},bob:${KEYS.bob}`, RATE_LIMIT_ENABLED: 'false' }
    const { file, args } = scriptArgv('start:deno')
    node = await startServerProcess({ env })
    deno = await startServerProcess({ env, argv: [file, ...args], timeoutMs: 60_000 })
  })
  after(async () => {
    await deno?.stop()
    await node?.stop()
    await redis?.stop()
  })

  it('reports Redis in /health and resumes on Node a stream Deno runs', async () => {
    const health = (await (await fetch(`http://127.0.0.1:${deno.port}/health`)).json()) as { dependencies: Record<string, string> }
    assert.equal(health.dependencies.redis, 'connected')
    const res = await fetch(`http://127.0.0.1:${deno.port}/api/v1/chat/stream`, {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': 'application/json' },
      body: JSON.stringify({ message: LONG }),
    })
    const id = res.headers.get('x-conversation-id')!
    const head = await readFrames(res, { stop: (f) => events(f).length >= 2, cancel: true })
    const resumed = await fetch(`http://127.0.0.1:${node.port}/api/v1/conversations/${id}/stream`, { headers: { ...AUTH.alice, 'last-event-id': events(head).at(-1)!.id! } })
    const rest = await readFrames(resumed, { stop: (f) => events(f).some((e) => e.event === 'done'), timeoutMs: 10_000 })
    const text = [...events(head), ...events(rest)].filter((f) => f.event === 'message').map((f) => JSON.parse(f.data!).delta).join('')
    assert.ok(text.startsWith(`You said: "${LONG}"`) && text.endsWith('for real answers.'), text)
  })
})
