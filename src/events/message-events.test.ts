import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ConversationStore, Message, NewMessage } from '../storage/ports.ts'
import { EventBus } from './bus.ts'
import { withMessageEvents, type PersistenceEvents } from './message-events.ts'

/** Owns conversation `c1` for alice only. */
function fakeStore(): ConversationStore {
  let seq = 0
  const owned = (userId: string, id: string) => userId === 'alice' && id === 'c1'
  return {
    create: async () => {
      throw new Error('unused')
    },
    get: async () => null,
    list: async () => ({ items: [], nextCursor: null }),
    update: async () => null,
    delete: async (userId, id) => owned(userId, id),
    appendMessage: async (userId, conversationId, input: NewMessage): Promise<Message | null> =>
      owned(userId, conversationId)
        ? { id: `m${++seq}`, conversationId, seq, role: input.role, content: input.content, status: 'complete', createdAt: 0 }
        : null,
    listMessages: async () => null,
    dropMessagesAfter: async () => null,
    count: async () => 0,
  }
}

describe('withMessageEvents', () => {
  it('publishes message.appended after a successful append, with the stored message', async () => {
    const bus = new EventBus<PersistenceEvents>()
    const events: PersistenceEvents['message.appended'][] = []
    bus.subscribe('message.appended', (event) => events.push(event))
    const store = withMessageEvents(fakeStore(), bus)
    const message = await store.appendMessage('alice', 'c1', { role: 'user', content: 'hi' })
    assert.deepEqual(events, [{ userId: 'alice', conversationId: 'c1', message }])
  })

  it('publishes nothing when the append or delete finds no conversation', async () => {
    const bus = new EventBus<PersistenceEvents>()
    let count = 0
    bus.subscribe('message.appended', () => void count++)
    bus.subscribe('conversation.deleted', () => void count++)
    const store = withMessageEvents(fakeStore(), bus)
    assert.equal(await store.appendMessage('bob', 'c1', { role: 'user', content: 'hi' }), null)
    assert.equal(await store.delete('bob', 'c1'), false)
    assert.equal(count, 0)
  })

  it('publishes conversation.deleted after a successful delete', async () => {
    const bus = new EventBus<PersistenceEvents>()
    const events: unknown[] = []
    bus.subscribe('conversation.deleted', (event) => events.push(event))
    assert.equal(await withMessageEvents(fakeStore(), bus).delete('alice', 'c1'), true)
    assert.deepEqual(events, [{ userId: 'alice', conversationId: 'c1' }])
  })

  it('a failing listener never fails the write', async () => {
    const bus = new EventBus<PersistenceEvents>()
    bus.subscribe('message.appended', () => {
      throw new Error('listener bug')
    })
    const message = await withMessageEvents(fakeStore(), bus).appendMessage('alice', 'c1', { role: 'user', content: 'x' })
    assert.equal(message?.content, 'x')
  })
})
