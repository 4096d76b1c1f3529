import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createWSMessageEvent } from 'hono/ws'
import { loadConfig } from '../../src/config/index.ts'
import { EventBus, withMessageEvents, type PersistenceEvents } from '../../src/events/index.ts'
import { chatGateway, createChat } from '../../src/features/chat/index.ts'
import { Hub } from '../../src/features/ws/index.ts'
import { ManualClock } from '../../src/kernel/clock.ts'
import { createProvider } from '../../src/providers/index.ts'
import { createMemoryStores } from '../../src/storage/memory/index.ts'
import { fakeSocket } from '../helpers/ws-context.ts'
import { until } from '../chat/helpers.ts'

/** The hub over the real chat service and the built-in provider, with in-process sockets. */
async function hubWithChat(env: Record<string, string> = {}) {
  const config = await loadConfig({ env })
  const clock = new ManualClock()
  const events = new EventBus<PersistenceEvents>()
  const opened = createMemoryStores({ clock })
  const conversations = withMessageEvents(opened.conversations, events)
  // The built-in's pacing on the test's clock too; chat.routes are not used here.
  const provider = createProvider(config.ai, { clock })
  const chat = createChat({ config, conversations, memory: opened.memory, provider, clock })
  const hub = new Hub({ gateway: chatGateway(chat.service), conversations, events, clock })
  const connect = (userId: string) => {
    const socket = fakeSocket()
    const connection = hub.connect({ id: userId })
    connection.onOpen?.(new Event('open'), socket.ws)
    return { ...socket, send: (frame: unknown) => connection.onMessage?.(createWSMessageEvent(JSON.stringify(frame)), socket.ws) }
  }
  /** Moves the clock one built-in chunk at a time until `check()` holds. */
  const runUntil = async (check: () => boolean, what: string) => {
    for (let step = 0; step < 1_000 && !check(); step++) await clock.advance(config.ai.builtin.chunk_delay)
    await until(check, what)
  }
  return { hub, chat, connect, runUntil }
}

describe('hub over the chat service', () => {
  it('streams a chat and reports the model that answered in done, whatever AI_MODEL names', async () => {
    const { connect, runUntil } = await hubWithChat({ AI_MODEL: 'gpt-4o' })
    const alice = connect('alice')
    alice.send({ type: 'chat', request_id: 'r1', message: 'hello hub' })
    await runUntil(() => alice.sent.some((f) => f.type === 'done'), 'the done frame')
    const [started, ...rest] = alice.sent
    assert.equal(started.type, 'started')
    const done = rest.at(-1)!
    assert.deepEqual([done.type, done.request_id, done.model, done.status, done.conversation_id], ['done', 'r1', 'builtin', 'complete', started.conversation_id])
    assert.match(rest.filter((f) => f.type === 'delta').map((f) => f.delta).join(''), /You said: "hello hub"/)
  })

  it("fans out the saved messages to the owner's subscribers and stops a generation from another socket", async () => {
    const { chat, connect, runUntil } = await hubWithChat()
    const phone = connect('alice')
    const laptop = connect('alice')
    const bob = connect('bob')
    phone.send({ type: 'chat', request_id: 'r', message: 'a reply long enough to stop halfway through it' })
    await runUntil(() => phone.sent.some((f) => f.type === 'started'), 'the start')
    const conversationId = phone.sent[0].conversation_id
    laptop.send({ type: 'subscribe', conversation_id: conversationId })
    bob.send({ type: 'subscribe', conversation_id: conversationId })
    await until(() => laptop.sent.length === 1 && bob.sent.length === 1, 'both answers')
    assert.deepEqual(laptop.sent[0], { type: 'subscribed', conversation_id: conversationId })
    assert.deepEqual([bob.sent[0].type, bob.sent[0].code], ['error', 'not_found'])
    await runUntil(() => phone.sent.some((f) => f.type === 'delta'), 'the first delta')
    laptop.send({ type: 'stop', conversation_id: conversationId })
    await runUntil(() => phone.sent.some((f) => f.type === 'done'), 'the stopped reply')
    assert.equal(phone.sent.at(-1)!.status, 'stopped')
    const reply = (f: Record<string, any>) => f.type === 'message' && f.message.role === 'assistant'
    await until(() => laptop.sent.some(reply), 'the saved reply')
    const saved = laptop.sent.find(reply)!
    assert.deepEqual([saved.message.role, saved.message.status, saved.message.data.model], ['assistant', 'stopped', 'builtin'])
    assert.ok(laptop.sent.some((f) => f.type === 'stopped'))
    assert.equal(bob.sent.length, 1, 'nothing of Alice reaches Bob')
    assert.equal(chat.jobs.stats().running, 0)
  })
})
