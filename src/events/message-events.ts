import type { ConversationStore, Message } from '../storage/ports.ts'
import type { EventBus } from './bus.ts'

/** What the storage layer announces after a successful write. */
export interface PersistenceEvents extends Record<string, unknown> {
  'message.appended': { userId: string; conversationId: string; message: Message }
  'conversation.deleted': { userId: string; conversationId: string }
}

/**
 * Wraps a conversation store so every successful `appendMessage` publishes `message.appended`
 * and every successful `delete` publishes `conversation.deleted`. Any transport that persists
 * through the wrapped store therefore triggers the WebSocket fan-out; failed or missing writes
 * publish nothing. Listener errors never fail the write.
 */
export function withMessageEvents(store: ConversationStore, bus: EventBus<PersistenceEvents>): ConversationStore {
  return {
    create: (userId, input) => store.create(userId, input),
    get: (userId, id) => store.get(userId, id),
    list: (userId, page) => store.list(userId, page),
    update: (userId, id, patch, expectedVersion) => store.update(userId, id, patch, expectedVersion),
    async delete(userId, id) {
      const deleted = await store.delete(userId, id)
      if (deleted) bus.publish('conversation.deleted', { userId, conversationId: id })
      return deleted
    },
    async appendMessage(userId, conversationId, input) {
      const message = await store.appendMessage(userId, conversationId, input)
      if (message) bus.publish('message.appended', { userId, conversationId, message })
      return message
    },
    listMessages: (userId, conversationId, page) => store.listMessages(userId, conversationId, page),
    // Not announced: subscribers hear of the messages that replace the dropped ones.
    dropMessagesAfter: (userId, conversationId, seq) => store.dropMessagesAfter(userId, conversationId, seq),
    count: (userId) => store.count(userId),
  }
}
