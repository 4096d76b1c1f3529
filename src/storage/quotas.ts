import { idempotentId } from './idempotency.ts'
import { QuotaExceededError, type ConversationStore, type MemoryStore, type Stores } from './ports.ts'

export interface Quotas {
  /** Conversations per user; 0: no quota. */
  conversations: number
  /** Messages per conversation; 0: no quota. */
  messagesPerConversation: number
  /** Memory items per user; 0: no quota. */
  memoryItems: number
}

/**
 * The stores with per-user quotas on what one user can keep, checked before each create. The check
 * and the create are two calls, so concurrent creates by one user can pass the limit by the number
 * racing (a soft bound, which is what it is for: no user grows the store without limit).
 */
export function withQuotas(stores: Stores, quotas: Quotas): Stores {
  return { ...stores, conversations: conversationQuotas(stores.conversations, quotas), memory: memoryQuotas(stores.memory, quotas) }
}

function conversationQuotas(store: ConversationStore, quotas: Quotas): ConversationStore {
  const { conversations, messagesPerConversation } = quotas
  return {
    get: (userId, id) => store.get(userId, id),
    list: (userId, page) => store.list(userId, page),
    update: (userId, id, patch, expectedVersion) => store.update(userId, id, patch, expectedVersion),
    delete: (userId, id) => store.delete(userId, id),
    listMessages: (userId, conversationId, page) => store.listMessages(userId, conversationId, page),
    dropMessagesAfter: (userId, conversationId, seq) => store.dropMessagesAfter(userId, conversationId, seq),
    count: (userId) => store.count(userId),
    async create(userId, input) {
      if (conversations > 0 && (await store.count(userId)) >= conversations) {
        // A retried idempotent create whose first attempt took the last place still gets its conversation.
        const earlier = input.idempotencyKey === undefined ? null : await store.get(userId, await idempotentId(userId, input.idempotencyKey))
        if (earlier) return earlier
        throw new QuotaExceededError('conversations', conversations)
      }
      return store.create(userId, input)
    },
    async appendMessage(userId, conversationId, message) {
      if (messagesPerConversation > 0) {
        const conversation = await store.get(userId, conversationId)
        if (conversation === null) return null
        if (conversation.messageCount >= messagesPerConversation) throw new QuotaExceededError('messages_per_conversation', messagesPerConversation)
      }
      return store.appendMessage(userId, conversationId, message)
    },
  }
}

function memoryQuotas(store: MemoryStore, quotas: Quotas): MemoryStore {
  const { memoryItems } = quotas
  return {
    search: (userId, search) => store.search(userId, search),
    list: (userId, page) => store.list(userId, page),
    delete: (userId, id) => store.delete(userId, id),
    count: (userId) => store.count(userId),
    async store(userId, item) {
      if (memoryItems > 0 && (await store.count(userId)) >= memoryItems) throw new QuotaExceededError('memory_items', memoryItems)
      return store.store(userId, item)
    },
  }
}
