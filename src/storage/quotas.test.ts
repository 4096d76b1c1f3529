import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { systemClock } from '../kernel/clock.ts'
import { createMemoryStores } from './memory/index.ts'
import { QuotaExceededError } from './ports.ts'
import { withQuotas } from './quotas.ts'

const quotaError = (quota: string, limit: number) => (error: unknown) =>
  error instanceof QuotaExceededError && error.quota === quota && error.limit === limit

describe('storage quotas', () => {
  it('refuses the conversation past the quota, per user, and makes room after a delete', async () => {
    const stores = withQuotas(createMemoryStores({ clock: systemClock }), { conversations: 2, messagesPerConversation: 0, memoryItems: 0 })
    const first = await stores.conversations.create('alice', {})
    await stores.conversations.create('alice', {})
    await assert.rejects(stores.conversations.create('alice', {}), quotaError('conversations', 2))
    assert.equal(await stores.conversations.count('alice'), 2, 'nothing was created')
    await stores.conversations.create('bob', {})
    await stores.conversations.delete('alice', first.id)
    await stores.conversations.create('alice', {})
  })

  it('answers a retried idempotent create at the quota with the conversation its first attempt made', async () => {
    const stores = withQuotas(createMemoryStores({ clock: systemClock }), { conversations: 1, messagesPerConversation: 0, memoryItems: 0 })
    const first = await stores.conversations.create('alice', { idempotencyKey: 'k1' })
    assert.deepEqual(await stores.conversations.create('alice', { idempotencyKey: 'k1' }), first)
    await assert.rejects(stores.conversations.create('alice', { idempotencyKey: 'k2' }), quotaError('conversations', 1))
  })

  it('refuses the message past the quota of its conversation; a missing conversation stays null', async () => {
    const stores = withQuotas(createMemoryStores({ clock: systemClock }), { conversations: 0, messagesPerConversation: 2, memoryItems: 0 })
    const { id } = await stores.conversations.create('alice', {})
    await stores.conversations.appendMessage('alice', id, { role: 'user', content: 'one' })
    await stores.conversations.appendMessage('alice', id, { role: 'assistant', content: 'two' })
    await assert.rejects(stores.conversations.appendMessage('alice', id, { role: 'user', content: 'three' }), quotaError('messages_per_conversation', 2))
    assert.equal((await stores.conversations.get('alice', id))!.messageCount, 2)
    assert.equal(await stores.conversations.appendMessage('bob', id, { role: 'user', content: 'x' }), null)
  })

  it('refuses the memory item past the quota', async () => {
    const stores = withQuotas(createMemoryStores({ clock: systemClock }), { conversations: 0, messagesPerConversation: 0, memoryItems: 1 })
    await stores.memory.store('alice', { content: 'one' })
    await assert.rejects(stores.memory.store('alice', { content: 'two' }), quotaError('memory_items', 1))
    await stores.memory.store('bob', { content: 'one' })
  })
})
