import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { memoryLogger } from '../../../test/helpers/app.ts'
import { ManualClock } from '../../kernel/clock.ts'
import { HttpProblem } from '../../kernel/problem.ts'
import { createMemoryStores } from '../../storage/memory/index.ts'
import type { Message } from '../../storage/ports.ts'
import { createContextBuilder, estimateTokens, fitHistory } from './context.ts'

describe('history budget', () => {
  const message = (content: string): Message => ({ id: content, conversationId: 'c', seq: 1, role: 'user', content, status: 'complete', createdAt: 0 })
  it('keeps the newest messages that fit, oldest first', () => {
    assert.equal(estimateTokens('12345678'), 2)
    const kept = fitHistory([message('a'.repeat(40)), message('b'.repeat(8)), message('c'.repeat(8))], 5)
    assert.deepEqual(kept.map((m) => m.content[0]), ['b', 'c'])
  })
})

describe('createContextBuilder', () => {
  const setup = async () => {
    const stores = createMemoryStores({ clock: new ManualClock() })
    const conversation = await stores.conversations.create('alice', {})
    for (const content of ['first question', 'first answer', 'second question']) {
      await stores.conversations.appendMessage('alice', conversation.id, { role: content.endsWith('answer') ? 'assistant' : 'user', content })
    }
    await stores.memory.store('alice', { content: 'alice prefers metric units' })
    return { stores, conversationId: conversation.id }
  }

  it('puts the memory notes first, then the history, then the new message', async () => {
    const { stores, conversationId } = await setup()
    const context = createContextBuilder({ conversations: stores.conversations, memory: stores.memory, historyTokenBudget: 8_000, memoryContextItems: 3 })
    const messages = await context.build('alice', conversationId, 'which units do I like?', false)
    assert.deepEqual(messages.map((m) => m.role), ['system', 'user', 'assistant', 'user', 'user'])
    assert.match(messages[0].content!, /alice prefers metric units/)
    assert.deepEqual(messages.slice(1).map((m) => m.content), ['first question', 'first answer', 'second question', 'which units do I like?'])
  })

  it('keeps only the history within the budget, skips it for a fresh conversation, and leaves notes out at 0 items', async () => {
    const { stores, conversationId } = await setup()
    const tight = createContextBuilder({ conversations: stores.conversations, memory: stores.memory, historyTokenBudget: 4, memoryContextItems: 0 })
    assert.deepEqual((await tight.build('alice', conversationId, 'units?', false)).map((m) => m.content), ['second question', 'units?'])
    assert.deepEqual((await tight.build('alice', conversationId, 'units?', true)).map((m) => m.content), ['units?'])
  })

  it("replies without notes when the memory search fails, and refuses another user's conversation", async () => {
    const { stores, conversationId } = await setup()
    const { logger, lines } = memoryLogger()
    const failing = { search: async () => Promise.reject(new Error('index offline')) }
    const context = createContextBuilder({ conversations: stores.conversations, memory: failing, historyTokenBudget: 8_000, memoryContextItems: 3, logger })
    const messages = await context.build('alice', conversationId, 'units?', false)
    assert.equal(messages[0].role, 'user')
    assert.ok(lines.some((line) => line.msg === 'memory search failed; replying without memory context'))
    await assert.rejects(context.build('bob', conversationId, 'units?', false), (error: unknown) => error instanceof HttpProblem && error.status === 404)
  })
})
