import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { startServerProcess, type ServerProcess } from '../helpers/process.ts'

// Per-user caps against the Node process, at the shipped defaults unless a test is about a setting.
const KEY = 'quota-test-key-0123456789ab'
const OTHER = 'quota-test-key-other-012345'
const CAROL = 'quota-test-key-carol-012345'
const API_KEYS = `mallory:${KEY},alice:${OTHER},carol:${CAROL}`

type Frame = Record<string, any>

/** A WebSocket client of `/ws` that records every frame. */
async function client(port: number, key: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${key}` } })
  const frames: Frame[] = []
  ws.on('message', (data) => frames.push(JSON.parse(String(data))))
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)))
  return { ws, frames }
}

/** Waits until `check` holds (polling every 50 ms) or `ms` pass. */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
}

describe('per-user chat caps over WebSocket (shipped defaults)', () => {
  let server: ServerProcess
  before(async () => {
    server = await startServerProcess({ env: { API_KEYS } })
  })
  after(() => server?.stop())

  it('starts at most CHAT_MAX_ACTIVE_PER_USER (4) of 200 chat frames sent over 10 sockets at once', async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => client(server.port, KEY)))
    for (const [s, socket] of sockets.entries()) {
      for (let i = 0; i < 20; i++) socket.ws.send(JSON.stringify({ type: 'chat', request_id: `r${s}-${i}`, message: `hello ${s}-${i}` }))
    }
    const all = () => sockets.flatMap((socket) => socket.frames)
    // Every frame is answered: started (then done), or an error frame.
    await until(() => all().filter((frame) => frame.type === 'started' || frame.type === 'error').length >= 200, 10_000)
    const frames = all()
    const started = frames.filter((frame) => frame.type === 'started')
    const refused = frames.filter((frame) => frame.type === 'error')
    assert.ok(started.length <= 4, `${started.length} generations started`)
    assert.ok(started.length >= 1, 'the first chats start')
    assert.equal(started.length + refused.length, 200, 'every chat frame was answered')
    assert.ok(refused.every((frame) => frame.code === 'rate_limited'), `codes: ${[...new Set(refused.map((frame) => frame.code))]}`)
    // Another user is not held back by mallory's flood.
    const alice = await client(server.port, OTHER)
    alice.ws.send(JSON.stringify({ type: 'chat', request_id: 'a1', message: 'hi' }))
    await until(() => alice.frames.some((frame) => frame.type === 'done' || frame.type === 'error'), 5000)
    assert.ok(alice.frames.some((frame) => frame.type === 'started'), JSON.stringify(alice.frames.at(-1)))
    for (const socket of [...sockets, alice]) socket.ws.close()
  })

  it('holds OpenAI-compatible completions to the same running cap: 10 at once start at most 4', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`http://127.0.0.1:${server.port}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CAROL}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'builtin', messages: [{ role: 'user', content: 'tell me something long enough to take a while' }] }),
        }).then(async (res) => ({ status: res.status, body: await res.json() })),
      ),
    )
    const ok = answers.filter((answer) => answer.status === 200)
    const capped = answers.filter((answer) => answer.status === 429 && /already running/.test(answer.body.error?.message))
    assert.ok(ok.length >= 1 && ok.length <= 4, `${ok.length} completed`)
    assert.equal(ok.length + capped.length, 10, JSON.stringify(answers.map((answer) => answer.status)))
  })

  it('answers an over-long or blank WebSocket chat message with an invalid_request error frame', async () => {
    const alice = await client(server.port, OTHER)
    alice.ws.send(JSON.stringify({ type: 'chat', request_id: 'long', message: 'x'.repeat(32_769) }))
    alice.ws.send(JSON.stringify({ type: 'chat', request_id: 'blank', message: '   ' }))
    await until(() => alice.frames.length >= 2, 5000)
    for (const id of ['long', 'blank']) {
      const frame = alice.frames.find((f) => f.request_id === id)
      assert.equal(frame?.type, 'error', id)
      assert.equal(frame?.code, 'invalid_request', id)
    }
    assert.match(alice.frames.find((f) => f.request_id === 'long')!.message, /longer than 32768 characters/)
    alice.ws.close()
  })
})

describe('storage quotas (QUOTAS_CONVERSATIONS=3, the setting under test)', () => {
  let server: ServerProcess
  before(async () => {
    server = await startServerProcess({ env: { API_KEYS, QUOTAS_CONVERSATIONS: '3' } })
  })
  after(() => server?.stop())

  it('answers the conversation past the quota with a 403 problem naming it, and creates nothing', async () => {
    const create = (key: string) =>
      fetch(`http://127.0.0.1:${server.port}/api/v1/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 't' }),
      })
    for (let i = 0; i < 3; i++) assert.equal((await create(KEY)).status, 201)
    const refused = await create(KEY)
    assert.equal(refused.status, 403)
    assert.equal(refused.headers.get('content-type'), 'application/problem+json')
    const body = await refused.json()
    assert.equal(body.quota, 'conversations')
    assert.equal(body.limit, 3)
    assert.match(body.detail, /at most 3 conversations/)
    const list = await fetch(`http://127.0.0.1:${server.port}/api/v1/conversations`, { headers: { authorization: `Bearer ${KEY}` } })
    assert.equal((await list.json()).data.length, 3)
    // The quota is per user.
    assert.equal((await create(OTHER)).status, 201)
  })
})
