import type { HealthCheck } from '../kernel/health.ts'

/**
 * Storage ports. Every method takes the owning user id first: no method can read or change another
 * user's records, and another user's id looks exactly like a missing one (null / false).
 * Timestamps are milliseconds since the epoch; the HTTP layer renders them as ISO 8601.
 */

export type Metadata = Record<string, unknown>

export interface Conversation {
  id: string
  userId: string
  title: string | null
  metadata: Metadata
  createdAt: number
  updatedAt: number
  messageCount: number
  /** Bumped on every change of the conversation itself or its messages; the HTTP ETag. */
  version: number
}

export type MessageRole = 'system' | 'user' | 'assistant' | 'tool'
export type MessageStatus = 'complete' | 'stopped' | 'error'

export interface Message {
  id: string
  conversationId: string
  /** Position in the conversation: 1, 2, 3 … with no gaps or repeats. */
  seq: number
  role: MessageRole
  content: string
  status: MessageStatus
  createdAt: number
  tokens?: number
  /** Transport-specific extras (tool calls, tool results), kept verbatim. */
  data?: Metadata
}

export interface Page<T> {
  items: T[]
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null
}

export interface PageRequest {
  /** 1–100. */
  limit: number
  cursor?: string
}

export interface NewConversation {
  /** A caller-chosen id (AI SDK `useChat` ids); generated when absent. */
  id?: string
  /**
   * The client's `Idempotency-Key`: a create repeated with the same key by the same user returns the
   * conversation the first one made (whatever the repeat's fields say) instead of a second one.
   */
  idempotencyKey?: string
  title?: string | null
  metadata?: Metadata
}

export interface ConversationPatch {
  title?: string | null
  metadata?: Metadata
}

export interface NewMessage {
  role: MessageRole
  content: string
  status?: MessageStatus
  tokens?: number
  data?: Metadata
}

export interface ConversationStore {
  /** Throws `IdTakenError` when a caller-chosen id already exists (for any user), unless it is this user's repeat with the same idempotency key. */
  create(userId: string, input: NewConversation): Promise<Conversation>
  get(userId: string, id: string): Promise<Conversation | null>
  /** Newest `updatedAt` first; ties broken by id. Throws `InvalidCursorError`. */
  list(userId: string, page: PageRequest): Promise<Page<Conversation>>
  /** Null when missing. Throws `VersionConflictError` when `expectedVersion` is given and stale. */
  update(userId: string, id: string, patch: ConversationPatch, expectedVersion?: number): Promise<Conversation | null>
  /** Deletes the conversation and all its messages. False when missing. */
  delete(userId: string, id: string): Promise<boolean>
  /** Appends with the next `seq`; bumps `updatedAt`, `messageCount`, `version`. Null when the conversation is missing. */
  appendMessage(userId: string, conversationId: string, message: NewMessage): Promise<Message | null>
  /** Oldest first. Null when the conversation is missing. Throws `InvalidCursorError`. */
  listMessages(userId: string, conversationId: string, page: PageRequest): Promise<Page<Message> | null>
  /**
   * Deletes every message after position `seq` (0 deletes them all), so the next append gets
   * `seq + 1`: a conversation rewound to replace a reply (AI SDK regenerate) or an edited message.
   * Bumps `updatedAt`, `messageCount` and `version` when something was deleted. Resolves with how many
   * were deleted; null when the conversation is missing. Not meant to race appends to the same
   * conversation (the chat reserves a conversation while it generates).
   */
  dropMessagesAfter(userId: string, conversationId: string, seq: number): Promise<number | null>
  /** How many conversations the user has (quotas). */
  count(userId: string): Promise<number>
}

export interface MemoryItem {
  id: string
  userId: string
  content: string
  tags: string[]
  metadata: Metadata
  createdAt: number
}

export interface NewMemoryItem {
  content: string
  /** As `NewConversation.idempotencyKey`: a repeat by the same user returns the item the first one stored. */
  idempotencyKey?: string
  tags?: string[]
  metadata?: Metadata
}

export interface MemorySearch {
  query: string
  limit: number
  /** Only items having every one of these tags. */
  tags?: string[]
}

export interface MemoryStore {
  store(userId: string, item: NewMemoryItem): Promise<MemoryItem>
  /** Best first; items that share no term with the query are not returned. */
  search(userId: string, search: MemorySearch): Promise<(MemoryItem & { score: number })[]>
  /** Newest first. Throws `InvalidCursorError`. */
  list(userId: string, page: PageRequest): Promise<Page<MemoryItem>>
  delete(userId: string, id: string): Promise<boolean>
  /** How many items the user has (quotas). */
  count(userId: string): Promise<number>
}

/** What an entrypoint hands the app: the stores, their health check, and how to close them. */
export interface Stores {
  conversations: ConversationStore
  memory: MemoryStore
  /** Registered with `/health` (e.g. `mongodb`). */
  health?: HealthCheck
  /** Whether data survives a restart; the memory adapter says false and start-up warns. */
  persistent: boolean
  close(): Promise<void>
}

export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor')
    this.name = 'InvalidCursorError'
  }
}

export class VersionConflictError extends Error {
  readonly current: number
  constructor(current: number) {
    super('version conflict')
    this.name = 'VersionConflictError'
    this.current = current
  }
}

export class IdTakenError extends Error {
  constructor() {
    super('id already exists')
    this.name = 'IdTakenError'
  }
}

/** A user already holds as many of something as one user may (`quota`: conversations, messages, memory_items). */
export class QuotaExceededError extends Error {
  readonly quota: string
  readonly limit: number
  constructor(quota: string, limit: number) {
    super(`quota exceeded: ${quota} (${limit})`)
    this.name = 'QuotaExceededError'
    this.quota = quota
    this.limit = limit
  }
}

/** The store could not be reached or answered with an error; the HTTP layer answers 503 + Retry-After. */
export class StoreUnavailableError extends Error {
  /** Seconds until a retry may succeed (the HTTP `Retry-After`); 5 when unknown. */
  readonly retryAfterSeconds: number
  /** A write failed after it may have been applied: retrying it without an idempotency key may duplicate it. */
  readonly outcomeUnknown: boolean
  constructor(message = 'storage is unavailable', options?: { cause?: unknown; retryAfterSeconds?: number; outcomeUnknown?: boolean }) {
    super(message, options)
    this.name = 'StoreUnavailableError'
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 5
    this.outcomeUnknown = options?.outcomeUnknown ?? false
  }
}
