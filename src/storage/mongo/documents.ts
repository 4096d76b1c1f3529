import type { Conversation, MemoryItem, Message, MessageRole, MessageStatus, Metadata } from '../ports.ts'

/**
 * The stored shapes. `_id` is a string we generate (or the caller chose), so a malformed id is just an
 * id nobody has: a miss, never a cast error. Caller metadata is kept as JSON text: MongoDB 4.4 refuses
 * field names starting with `$` or containing `.`, and a client's metadata may well have them.
 */
export interface ConversationDocument {
  _id: string
  user_id: string
  title: string | null
  metadata_json: string
  created_at: Date
  updated_at: Date
  message_count: number
  /** The `seq` handed to the last appended message; `$inc`-ed atomically before each append. */
  last_seq: number
  version: number
}

export interface MessageDocument {
  _id: string
  conversation_id: string
  user_id: string
  seq: number
  role: MessageRole
  content: string
  status: MessageStatus
  created_at: Date
  tokens?: number
  data_json?: string
}

export interface MemoryDocument {
  _id: string
  user_id: string
  content: string
  tags: string[]
  metadata_json: string
  created_at: Date
}

const parseMetadata = (text: string | undefined): Metadata => (text ? (JSON.parse(text) as Metadata) : {})

export function toConversation(doc: ConversationDocument): Conversation {
  return {
    id: doc._id,
    userId: doc.user_id,
    title: doc.title ?? null,
    metadata: parseMetadata(doc.metadata_json),
    createdAt: doc.created_at.getTime(),
    updatedAt: doc.updated_at.getTime(),
    messageCount: doc.message_count,
    version: doc.version,
  }
}

export function toMessage(doc: MessageDocument): Message {
  return {
    id: doc._id,
    conversationId: doc.conversation_id,
    seq: doc.seq,
    role: doc.role,
    content: doc.content,
    status: doc.status,
    createdAt: doc.created_at.getTime(),
    ...(doc.tokens === undefined || doc.tokens === null ? {} : { tokens: doc.tokens }),
    ...(doc.data_json === undefined || doc.data_json === null ? {} : { data: parseMetadata(doc.data_json) }),
  }
}

export function toMemoryItem(doc: MemoryDocument): MemoryItem {
  return {
    id: doc._id,
    userId: doc.user_id,
    content: doc.content,
    tags: doc.tags,
    metadata: parseMetadata(doc.metadata_json),
    createdAt: doc.created_at.getTime(),
  }
}
