import type { WallClock } from '../../kernel/clock.ts'
import {
  decodeConversationCursor,
  decodeMessageCursor,
  encodeConversationCursor,
  encodeMessageCursor,
} from '../cursor.ts'
import {
  IdTakenError,
  VersionConflictError,
  type Conversation,
  type ConversationPatch,
  type ConversationStore,
  type Message,
  type NewConversation,
  type NewMessage,
  type Page,
  type PageRequest,
} from '../ports.ts'
import { idempotentId } from '../idempotency.ts'
import { cloneData } from './clone.ts'
import { SortedList } from './sorted-list.ts'

interface Entry {
  conversation: Conversation
  /** `messages[seq - 1]`: appends never leave gaps, so the array index is the order. */
  messages: Message[]
}

/** Newest `updatedAt` first, ties by id descending (the same order the MongoDB index gives). */
type ConversationKey = Pick<Conversation, 'updatedAt' | 'id'>

export function compareConversations(a: ConversationKey, b: ConversationKey): number {
  return b.updatedAt - a.updatedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

const copy = (conversation: Conversation): Conversation => ({ ...conversation, metadata: cloneData(conversation.metadata) })

/**
 * Conversations and messages in process memory. Every operation runs synchronously between awaits,
 * so concurrent appends are serialised by the event loop and `seq` never repeats or skips.
 */
export class MemoryConversationStore implements ConversationStore {
  readonly #clock: WallClock
  /** Ids are unique across users (caller-chosen ids must not collide). */
  readonly #byId = new Map<string, Entry>()
  readonly #byUser = new Map<string, SortedList<Conversation, ConversationKey>>()

  constructor(options: { clock: WallClock }) {
    this.#clock = options.clock
  }

  #owned(userId: string, id: string): Entry | undefined {
    const entry = this.#byId.get(id)
    return entry && entry.conversation.userId === userId ? entry : undefined
  }

  #list(userId: string): SortedList<Conversation, ConversationKey> {
    let list = this.#byUser.get(userId)
    if (!list) {
      list = new SortedList<Conversation, ConversationKey>(compareConversations)
      this.#byUser.set(userId, list)
    }
    return list
  }

  /** Re-files the conversation under a new, strictly later `updatedAt` and the next version. */
  #touch(entry: Entry, change: (conversation: Conversation) => void): void {
    const conversation = entry.conversation
    const list = this.#list(conversation.userId)
    list.remove(conversation)
    change(conversation)
    // Strictly increasing even within one millisecond (or with a frozen clock), so order is stable.
    conversation.updatedAt = Math.max(this.#clock.now(), conversation.updatedAt + 1)
    conversation.version += 1
    list.insert(conversation)
  }

  async create(userId: string, input: NewConversation): Promise<Conversation> {
    const id = input.id ?? (input.idempotencyKey === undefined ? crypto.randomUUID() : await idempotentId(userId, input.idempotencyKey))
    const existing = this.#byId.get(id)
    if (existing) {
      if (input.idempotencyKey !== undefined && existing.conversation.userId === userId) return copy(existing.conversation)
      throw new IdTakenError()
    }
    const now = this.#clock.now()
    const conversation: Conversation = {
      id,
      userId,
      title: input.title ?? null,
      metadata: cloneData(input.metadata ?? {}),
      createdAt: now,
      updatedAt: now,
      messageCount: 0,
      version: 1,
    }
    this.#byId.set(id, { conversation, messages: [] })
    this.#list(userId).insert(conversation)
    return copy(conversation)
  }

  async count(userId: string): Promise<number> {
    return this.#byUser.get(userId)?.size ?? 0
  }

  async get(userId: string, id: string): Promise<Conversation | null> {
    const entry = this.#owned(userId, id)
    return entry ? copy(entry.conversation) : null
  }

  async list(userId: string, page: PageRequest): Promise<Page<Conversation>> {
    const after = page.cursor === undefined ? undefined : decodeConversationCursor(page.cursor)
    const list = this.#byUser.get(userId)
    if (!list) return { items: [], nextCursor: null }
    const found = list.page(page.limit + 1, after)
    const items = found.slice(0, page.limit)
    const last = items[items.length - 1]
    return {
      items: items.map(copy),
      nextCursor: found.length > page.limit ? encodeConversationCursor({ updatedAt: last.updatedAt, id: last.id }) : null,
    }
  }

  async update(userId: string, id: string, patch: ConversationPatch, expectedVersion?: number): Promise<Conversation | null> {
    const entry = this.#owned(userId, id)
    if (!entry) return null
    if (expectedVersion !== undefined && entry.conversation.version !== expectedVersion) {
      throw new VersionConflictError(entry.conversation.version)
    }
    this.#touch(entry, (conversation) => {
      if (patch.title !== undefined) conversation.title = patch.title
      if (patch.metadata !== undefined) conversation.metadata = cloneData(patch.metadata)
    })
    return copy(entry.conversation)
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const entry = this.#owned(userId, id)
    if (!entry) return false
    this.#byId.delete(id)
    this.#list(userId).remove(entry.conversation)
    return true
  }

  async appendMessage(userId: string, conversationId: string, input: NewMessage): Promise<Message | null> {
    const entry = this.#owned(userId, conversationId)
    if (!entry) return null
    const message: Message = {
      id: crypto.randomUUID(),
      conversationId,
      seq: entry.messages.length + 1,
      role: input.role,
      content: input.content,
      status: input.status ?? 'complete',
      createdAt: this.#clock.now(),
      ...(input.tokens === undefined ? {} : { tokens: input.tokens }),
      ...(input.data === undefined ? {} : { data: cloneData(input.data) }),
    }
    entry.messages.push(message)
    this.#touch(entry, (conversation) => {
      conversation.messageCount = entry.messages.length
    })
    return cloneData(message)
  }

  async dropMessagesAfter(userId: string, conversationId: string, seq: number): Promise<number | null> {
    const entry = this.#owned(userId, conversationId)
    if (!entry) return null
    const keep = Math.max(0, Math.floor(seq))
    const dropped = entry.messages.length - keep
    if (dropped <= 0) return 0
    entry.messages.length = keep
    this.#touch(entry, (conversation) => {
      conversation.messageCount = keep
    })
    return dropped
  }

  async listMessages(userId: string, conversationId: string, page: PageRequest): Promise<Page<Message> | null> {
    const afterSeq = page.cursor === undefined ? 0 : decodeMessageCursor(page.cursor)
    const entry = this.#owned(userId, conversationId)
    if (!entry) return null
    const items = entry.messages.slice(afterSeq, afterSeq + page.limit)
    const lastSeq = afterSeq + items.length
    return {
      items: items.map((message) => cloneData(message)),
      nextCursor: lastSeq < entry.messages.length ? encodeMessageCursor(lastSeq) : null,
    }
  }
}
