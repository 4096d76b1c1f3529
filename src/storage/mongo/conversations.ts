import type { Collection, Filter } from 'mongodb'
import type { WallClock } from '../../kernel/clock.ts'
import { decodeConversationCursor, decodeMessageCursor, encodeConversationCursor, encodeMessageCursor } from '../cursor.ts'
import {
  IdTakenError,
  StoreUnavailableError,
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
import { toConversation, toMessage, type ConversationDocument, type MessageDocument } from './documents.ts'
import { isDuplicateKey } from './errors.ts'
import type { OperationContext, Runner } from './gate.ts'
import { SerialQueues } from './serial.ts'

export interface MongoConversationStoreOptions {
  conversations: Collection<ConversationDocument>
  messages: Collection<MessageDocument>
  clock: WallClock
  /** Every operation goes through it (connection, indexes, breaker, error mapping). */
  run: Runner
}

/** Compare-and-set rounds an update tries before it settles for a plain `$max` on `updated_at`. */
const UPDATE_ROUNDS = 3
/** Appends that find their `seq` taken (another process appended first) try again this often. */
const APPEND_ROUNDS = 8

/** Strictly after what was read, so a single writer moves the list order even within one millisecond. */
const later = (now: number, previous: Date) => new Date(Math.max(now, previous.getTime() + 1))

/**
 * Conversations and messages in MongoDB, with plain update operators only (`$set`, `$inc`, `$max`;
 * no update pipelines, which MongoDB-compatible services support only in part). Every message query
 * and delete is scoped by user id as well as conversation id.
 *
 * An append inserts the message first, at `last_seq + 1`, guarded by the unique
 * `(user_id, conversation_id, seq)` index, and only then moves the conversation's counters with
 * `$max`: a failed insert changes nothing, so there is never a gap or a count one too high.
 */
export class MongoConversationStore implements ConversationStore {
  readonly #conversations: Collection<ConversationDocument>
  readonly #messages: Collection<MessageDocument>
  readonly #clock: WallClock
  readonly #run: Runner
  /** Appends to one conversation from this process run one after another instead of racing for a seq. */
  readonly #appends = new SerialQueues()

  constructor(options: MongoConversationStoreOptions) {
    this.#conversations = options.conversations
    this.#messages = options.messages
    this.#clock = options.clock
    this.#run = options.run
  }

  async create(userId: string, input: NewConversation): Promise<Conversation> {
    return this.#run(
      async ({ signal, sending }) => {
        const now = new Date(this.#clock.now())
        const key = input.idempotencyKey
        const doc: ConversationDocument = {
          _id: input.id ?? (key === undefined ? crypto.randomUUID() : await idempotentId(userId, key)),
          user_id: userId,
          title: input.title ?? null,
          metadata_json: JSON.stringify(input.metadata ?? {}),
          created_at: now,
          updated_at: now,
          message_count: 0,
          last_seq: 0,
          version: 1,
        }
        sending()
        try {
          await this.#conversations.insertOne(doc)
        } catch (error) {
          if (!isDuplicateKey(error)) throw error
          // A repeat of a create whose answer was lost: the first one's conversation, not a second.
          const first = key === undefined ? null : await this.#conversations.findOne({ _id: doc._id, user_id: userId }, { signal })
          if (first) return toConversation(first)
          throw new IdTakenError()
        }
        return toConversation(doc)
      },
      { write: true },
    )
  }

  async count(userId: string): Promise<number> {
    return this.#run(({ signal }) => this.#conversations.countDocuments({ user_id: userId }, { signal }))
  }

  async get(userId: string, id: string): Promise<Conversation | null> {
    return this.#run(async ({ signal }) => {
      const doc = await this.#conversations.findOne({ _id: id, user_id: userId }, { signal })
      return doc ? toConversation(doc) : null
    })
  }

  async list(userId: string, page: PageRequest): Promise<Page<Conversation>> {
    const after = page.cursor === undefined ? undefined : decodeConversationCursor(page.cursor)
    return this.#run(async ({ signal }) => {
      const filter: Filter<ConversationDocument> = { user_id: userId }
      if (after) {
        const at = new Date(after.updatedAt)
        filter.$or = [{ updated_at: { $lt: at } }, { updated_at: at, _id: { $lt: after.id } }]
      }
      const docs = await this.#conversations.find(filter, { signal }).sort({ updated_at: -1, _id: -1 }).limit(page.limit + 1).toArray()
      const items = docs.slice(0, page.limit).map(toConversation)
      const last = items[items.length - 1]
      return {
        items,
        nextCursor: docs.length > page.limit ? encodeConversationCursor({ updatedAt: last.updatedAt, id: last.id }) : null,
      }
    })
  }

  /** Compare-and-set on `version`: read, then write only if nobody changed it meanwhile. */
  async update(userId: string, id: string, patch: ConversationPatch, expectedVersion?: number): Promise<Conversation | null> {
    return this.#run(
      async ({ signal, sending }) => {
        const owner = { _id: id, user_id: userId }
        const set: Partial<ConversationDocument> = {}
        if (patch.title !== undefined) set.title = patch.title
        if (patch.metadata !== undefined) set.metadata_json = JSON.stringify(patch.metadata)
        for (let round = 0; round < UPDATE_ROUNDS; round++) {
          const current = await this.#conversations.findOne(owner, { projection: { version: 1, updated_at: 1 }, signal })
          if (!current) return null
          if (expectedVersion !== undefined && current.version !== expectedVersion) throw new VersionConflictError(current.version)
          sending()
          const doc = await this.#conversations.findOneAndUpdate(
            { ...owner, version: current.version },
            { $set: { ...set, updated_at: later(this.#clock.now(), current.updated_at) }, $inc: { version: 1 } },
            { returnDocument: 'after' },
          )
          if (doc) return toConversation(doc)
        }
        if (expectedVersion !== undefined) {
          const current = await this.#conversations.findOne(owner, { projection: { version: 1 }, signal })
          if (current) throw new VersionConflictError(current.version)
          return null
        }
        // Busy from other writers: the ETag (version) still changes; the list order may tie.
        const doc = await this.#conversations.findOneAndUpdate(
          owner,
          { $set: set, $inc: { version: 1 }, $max: { updated_at: new Date(this.#clock.now()) } },
          { returnDocument: 'after' },
        )
        return doc ? toConversation(doc) : null
      },
      { write: true },
    )
  }

  /**
   * The messages first, then the conversation: an interrupted delete leaves a conversation (the caller
   * retries), never messages without one that a re-used id could show.
   */
  async delete(userId: string, id: string): Promise<boolean> {
    return this.#run(
      async ({ signal, sending }) => {
        const owner = { _id: id, user_id: userId }
        if (!(await this.#conversations.findOne(owner, { projection: { _id: 1 }, signal }))) return false
        sending()
        await this.#messages.deleteMany({ user_id: userId, conversation_id: id })
        const { deletedCount } = await this.#conversations.deleteOne(owner)
        return deletedCount === 1
      },
      { write: true },
    )
  }

  async appendMessage(userId: string, conversationId: string, input: NewMessage): Promise<Message | null> {
    return this.#appends.run(`${userId}\u0000${conversationId}`, () =>
      this.#run((op) => this.#append(userId, conversationId, input, op), { write: true }),
    )
  }

  async #append(userId: string, conversationId: string, input: NewMessage, { signal, sending }: OperationContext): Promise<Message | null> {
    const owner = { _id: conversationId, user_id: userId }
    for (let round = 0; round < APPEND_ROUNDS; round++) {
      const conversation = await this.#conversations.findOne(owner, { projection: { last_seq: 1, updated_at: 1 }, signal })
      if (!conversation) return null
      // After a lost race (or counters left behind by an interrupted append) the messages say where to go on.
      const seq = (round === 0 ? conversation.last_seq : Math.max(conversation.last_seq, await this.#lastSeq(userId, conversationId, signal))) + 1
      const now = this.#clock.now()
      const doc: MessageDocument = {
        _id: crypto.randomUUID(),
        conversation_id: conversationId,
        user_id: userId,
        seq,
        role: input.role,
        content: input.content,
        status: input.status ?? 'complete',
        created_at: new Date(now),
        ...(input.tokens === undefined ? {} : { tokens: input.tokens }),
        ...(input.data === undefined ? {} : { data_json: JSON.stringify(input.data) }),
      }
      sending()
      try {
        await this.#messages.insertOne(doc)
      } catch (error) {
        if (isDuplicateKey(error)) continue
        throw error
      }
      const { matchedCount } = await this.#conversations.updateOne(owner, {
        $max: { last_seq: seq, message_count: seq, updated_at: later(now, conversation.updated_at) },
        $inc: { version: 1 },
      })
      if (matchedCount === 0) {
        // Deleted while we appended: take the message back with it.
        await this.#messages.deleteOne({ _id: doc._id, user_id: userId })
        return null
      }
      return toMessage(doc)
    }
    throw new StoreUnavailableError('The conversation is busy with appends from elsewhere; retry')
  }

  async #lastSeq(userId: string, conversationId: string, signal: AbortSignal): Promise<number> {
    const [last] = await this.#messages
      .find({ user_id: userId, conversation_id: conversationId }, { projection: { seq: 1 }, signal })
      .sort({ seq: -1 })
      .limit(1)
      .toArray()
    return last?.seq ?? 0
  }

  /**
   * Deletes the messages after `seq`, then moves the conversation's counters back with plain update
   * operators. Deleting first means an append racing it could at worst leave a message behind, never
   * lose one; the port asks callers not to race it.
   */
  async dropMessagesAfter(userId: string, conversationId: string, seq: number): Promise<number | null> {
    const keep = Math.max(0, Math.floor(seq))
    return this.#run(
      async ({ signal, sending }) => {
        const owner = { _id: conversationId, user_id: userId }
        const conversation = await this.#conversations.findOne(owner, { projection: { last_seq: 1 }, signal })
        if (!conversation) return null
        if (conversation.last_seq <= keep) return 0
        sending()
        const { deletedCount } = await this.#messages.deleteMany({ user_id: userId, conversation_id: conversationId, seq: { $gt: keep } })
        await this.#conversations.updateOne(owner, {
          $set: { last_seq: keep, message_count: keep },
          $inc: { version: 1 },
          $max: { updated_at: new Date(this.#clock.now()) },
        })
        return deletedCount
      },
      { write: true },
    )
  }

  async listMessages(userId: string, conversationId: string, page: PageRequest): Promise<Page<Message> | null> {
    const afterSeq = page.cursor === undefined ? 0 : decodeMessageCursor(page.cursor)
    return this.#run(async ({ signal }) => {
      const owner = await this.#conversations.findOne({ _id: conversationId, user_id: userId }, { projection: { _id: 1 }, signal })
      if (!owner) return null
      const docs = await this.#messages
        .find({ user_id: userId, conversation_id: conversationId, seq: { $gt: afterSeq } }, { signal })
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
