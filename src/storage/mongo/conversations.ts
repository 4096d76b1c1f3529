import type { Collection, Document, Filter } from 'mongodb'
import type { WallClock } from '../../kernel/clock.ts'
import { decodeConversationCursor, decodeMessageCursor, encodeConversationCursor, encodeMessageCursor } from '../cursor.ts'
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
import { toConversation, toMessage, type ConversationDocument, type MessageDocument } from './documents.ts'
import { guardedRunner, isDuplicateKey, type Breaker } from './errors.ts'

export interface MongoConversationStoreOptions {
  conversations: Collection<ConversationDocument>
  messages: Collection<MessageDocument>
  clock: WallClock
  /** Resolves once the indexes exist; every operation waits for it (it is memoised). */
  ready: () => Promise<void>
  breaker?: Breaker
}

/**
 * An update-pipeline stage that moves `updated_at` strictly forward and bumps `version` in the same
 * atomic write (pipeline updates: MongoDB 4.2+). `$literal` keeps a caller's `$`-string from being
 * read as a field path.
 */
function touch(now: number, set: Document = {}): Document[] {
  return [
    {
      $set: {
        ...set,
        version: { $add: ['$version', 1] },
        updated_at: { $max: [{ $literal: new Date(now) }, { $add: ['$updated_at', 1] }] },
      },
    },
  ]
}

/** Conversations and messages in MongoDB; `seq` comes from an atomic counter on the conversation. */
export class MongoConversationStore implements ConversationStore {
  readonly #conversations: Collection<ConversationDocument>
  readonly #messages: Collection<MessageDocument>
  readonly #clock: WallClock
  readonly #run: <T>(operation: () => Promise<T>) => Promise<T>

  constructor(options: MongoConversationStoreOptions) {
    this.#conversations = options.conversations
    this.#messages = options.messages
    this.#clock = options.clock
    this.#run = guardedRunner(options.ready, options.breaker)
  }

  async create(userId: string, input: NewConversation): Promise<Conversation> {
    return this.#run(async () => {
      const now = new Date(this.#clock.now())
      const doc: ConversationDocument = {
        _id: input.id ?? crypto.randomUUID(),
        user_id: userId,
        title: input.title ?? null,
        metadata_json: JSON.stringify(input.metadata ?? {}),
        created_at: now,
        updated_at: now,
        message_count: 0,
        last_seq: 0,
        version: 1,
      }
      try {
        await this.#conversations.insertOne(doc)
      } catch (error) {
        if (isDuplicateKey(error)) throw new IdTakenError()
        throw error
      }
      return toConversation(doc)
    })
  }

  async count(userId: string): Promise<number> {
    return this.#run(() => this.#conversations.countDocuments({ user_id: userId }))
  }

  async get(userId: string, id: string): Promise<Conversation | null> {
    return this.#run(async () => {
      const doc = await this.#conversations.findOne({ _id: id, user_id: userId })
      return doc ? toConversation(doc) : null
    })
  }

  async list(userId: string, page: PageRequest): Promise<Page<Conversation>> {
    const after = page.cursor === undefined ? undefined : decodeConversationCursor(page.cursor)
    return this.#run(async () => {
      const filter: Filter<ConversationDocument> = { user_id: userId }
      if (after) {
        const at = new Date(after.updatedAt)
        filter.$or = [{ updated_at: { $lt: at } }, { updated_at: at, _id: { $lt: after.id } }]
      }
      const docs = await this.#conversations.find(filter).sort({ updated_at: -1, _id: -1 }).limit(page.limit + 1).toArray()
      const items = docs.slice(0, page.limit).map(toConversation)
      const last = items[items.length - 1]
      return {
        items,
        nextCursor: docs.length > page.limit ? encodeConversationCursor({ updatedAt: last.updatedAt, id: last.id }) : null,
      }
    })
  }

  async update(userId: string, id: string, patch: ConversationPatch, expectedVersion?: number): Promise<Conversation | null> {
    return this.#run(async () => {
      const set: Document = {}
      if (patch.title !== undefined) set.title = { $literal: patch.title }
      if (patch.metadata !== undefined) set.metadata_json = { $literal: JSON.stringify(patch.metadata) }
      const filter: Filter<ConversationDocument> = { _id: id, user_id: userId }
      if (expectedVersion !== undefined) filter.version = expectedVersion
      const doc = await this.#conversations.findOneAndUpdate(filter, touch(this.#clock.now(), set), { returnDocument: 'after' })
      if (doc) return toConversation(doc)
      if (expectedVersion === undefined) return null
      const current = await this.#conversations.findOne({ _id: id, user_id: userId }, { projection: { version: 1 } })
      if (current) throw new VersionConflictError(current.version)
      return null
    })
  }

  async delete(userId: string, id: string): Promise<boolean> {
    return this.#run(async () => {
      const { deletedCount } = await this.#conversations.deleteOne({ _id: id, user_id: userId })
      if (deletedCount === 0) return false
      // Messages of a deleted conversation are unreachable (reads check the conversation first); this removes them.
      await this.#messages.deleteMany({ conversation_id: id })
      return true
    })
  }

  async appendMessage(userId: string, conversationId: string, input: NewMessage): Promise<Message | null> {
    return this.#run(async () => {
      const now = this.#clock.now()
      // One atomic write hands out the next seq; concurrent appends each get their own number.
      const conversation = await this.#conversations.findOneAndUpdate(
        { _id: conversationId, user_id: userId },
        touch(now, { last_seq: { $add: ['$last_seq', 1] }, message_count: { $add: ['$message_count', 1] } }),
        { returnDocument: 'after', projection: { last_seq: 1 } },
      )
      if (!conversation) return null
      const doc: MessageDocument = {
        _id: crypto.randomUUID(),
        conversation_id: conversationId,
        user_id: userId,
        seq: conversation.last_seq,
        role: input.role,
        content: input.content,
        status: input.status ?? 'complete',
        created_at: new Date(now),
        ...(input.tokens === undefined ? {} : { tokens: input.tokens }),
        ...(input.data === undefined ? {} : { data_json: JSON.stringify(input.data) }),
      }
      await this.#messages.insertOne(doc)
      return toMessage(doc)
    })
  }

  /**
   * Deletes the messages after `seq`, then moves the conversation's counters back with plain update
   * operators. Deleting first means an append racing it could at worst leave a message behind, never
   * lose one; the port asks callers not to race it.
   */
  async dropMessagesAfter(userId: string, conversationId: string, seq: number): Promise<number | null> {
    const keep = Math.max(0, Math.floor(seq))
    return this.#run(async () => {
      const owner = { _id: conversationId, user_id: userId }
      const conversation = await this.#conversations.findOne(owner, { projection: { last_seq: 1 } })
      if (!conversation) return null
      if (conversation.last_seq <= keep) return 0
      const { deletedCount } = await this.#messages.deleteMany({ conversation_id: conversationId, user_id: userId, seq: { $gt: keep } })
      await this.#conversations.updateOne(owner, {
        $set: { last_seq: keep, message_count: keep },
        $inc: { version: 1 },
        $max: { updated_at: new Date(this.#clock.now()) },
      })
      return deletedCount
    })
  }

  async listMessages(userId: string, conversationId: string, page: PageRequest): Promise<Page<Message> | null> {
    const afterSeq = page.cursor === undefined ? 0 : decodeMessageCursor(page.cursor)
    return this.#run(async () => {
      const owner = await this.#conversations.findOne({ _id: conversationId, user_id: userId }, { projection: { _id: 1 } })
      if (!owner) return null
      const docs = await this.#messages
        .find({ conversation_id: conversationId, seq: { $gt: afterSeq } })
        .sort({ seq: 1 })
        .limit(page.limit + 1)
        .toArray()
      const items = docs.slice(0, page.limit).map(toMessage)
      return {
        items,
        nextCursor: docs.length > page.limit ? encodeMessageCursor(items[items.length - 1].seq) : null,
      }
    })
  }
}
