import type { EventBus, PersistenceEvents, SharedEvents, Unsubscribe } from '../../events/index.ts'
import type { ConversationStore } from '../../storage/ports.ts'
import type { Connection } from './connection.ts'
import type { FrameSender } from './connections.ts'
import { messageJson } from './protocol.ts'

export interface SubscriptionsOptions {
  /** Ownership checks: only the owner may subscribe to a conversation. */
  conversations: Pick<ConversationStore, 'get'>
  /** Where persisted messages are announced (see `withMessageEvents`); without it nothing is delivered. */
  events?: EventBus<PersistenceEvents>
  /** Events saved through other instances (Redis); a conversation is watched while it has subscribers here. */
  shared?: SharedEvents
  /** Conversations one connection may subscribe to. */
  maxSubscriptions: number
  sender: Pick<FrameSender, 'send' | 'sendText' | 'error'>
}

function subscriptionKey(userId: string, conversationId: string): string {
  return `${userId}\n${conversationId}`
}

/**
 * Per-conversation fan-out: every message persisted to a conversation, through any transport,
 * reaches the connections of its owner that subscribed to it, serialised once for all of them.
 * Keys carry the user, so another user's subscribers are never even looked up.
 */
export class Subscriptions {
  readonly #conversations: SubscriptionsOptions['conversations']
  readonly #maxSubscriptions: number
  readonly #sender: SubscriptionsOptions['sender']
  readonly #subscribers = new Map<string, Set<Connection>>()
  readonly #shared: SharedEvents | undefined
  /** Per subscribed key, the release of its shared watch. */
  readonly #watches = new Map<string, Unsubscribe>()
  readonly #detachEvents: Unsubscribe[] = []

  constructor(options: SubscriptionsOptions) {
    this.#conversations = options.conversations
    this.#maxSubscriptions = options.maxSubscriptions
    this.#sender = options.sender
    this.#shared = options.shared
    if (options.events) {
      this.#detachEvents.push(
        options.events.subscribe('message.appended', (event) => this.#messageAppended(event)),
        options.events.subscribe('conversation.deleted', (event) => this.#conversationDeleted(event)),
      )
    }
  }

  /** Connections subscribed to the user's conversation. */
  count(userId: string, conversationId: string): number {
    return this.#subscribers.get(subscriptionKey(userId, conversationId))?.size ?? 0
  }

  async subscribe(connection: Connection, conversationId: string): Promise<void> {
    const key = subscriptionKey(connection.userId, conversationId)
    const subscriptions = (connection.subscriptions ??= new Set())
    if (!subscriptions.has(key) && subscriptions.size >= this.#maxSubscriptions) {
      this.#sender.error(connection, 'too_many_subscriptions', `At most ${this.#maxSubscriptions} subscriptions per connection`)
      return
    }
    // Another user's conversation looks exactly like a missing one.
    const conversation = await this.#conversations.get(connection.userId, conversationId)
    if (!connection.open) return
    if (!conversation) {
      this.#sender.error(connection, 'not_found', 'Conversation not found')
      return
    }
    subscriptions.add(key)
    let subscribers = this.#subscribers.get(key)
    if (!subscribers) {
      this.#subscribers.set(key, (subscribers = new Set()))
      if (this.#shared) this.#watches.set(key, this.#shared.watch(conversationId))
    }
    subscribers.add(connection)
    this.#sender.send(connection, { type: 'subscribed', conversation_id: conversationId })
  }

  unsubscribe(connection: Connection, conversationId: string): void {
    const key = subscriptionKey(connection.userId, conversationId)
    if (connection.subscriptions?.delete(key)) this.#remove(key, connection)
    this.#sender.send(connection, { type: 'unsubscribed', conversation_id: conversationId })
  }

  /** Forgets every subscription of a connection that went away. */
  drop(connection: Connection): void {
    if (!connection.subscriptions) return
    for (const key of connection.subscriptions) this.#remove(key, connection)
    connection.subscriptions = null
  }

  /** Stops listening to the event bus. */
  close(): void {
    for (const detach of this.#detachEvents.splice(0)) detach()
    for (const release of this.#watches.values()) release()
    this.#watches.clear()
  }

  #remove(key: string, connection: Connection): void {
    const subscribers = this.#subscribers.get(key)
    if (!subscribers) return
    subscribers.delete(connection)
    if (subscribers.size === 0) this.#forget(key)
  }

  #forget(key: string): void {
    this.#subscribers.delete(key)
    this.#watches.get(key)?.()
    this.#watches.delete(key)
  }

  #messageAppended(event: PersistenceEvents['message.appended']): void {
    const subscribers = this.#subscribers.get(subscriptionKey(event.userId, event.conversationId))
    if (!subscribers) return
    const text = JSON.stringify({ type: 'message', conversation_id: event.conversationId, message: messageJson(event.message) })
    for (const connection of subscribers) this.#sender.sendText(connection, text)
  }

  #conversationDeleted(event: PersistenceEvents['conversation.deleted']): void {
    const key = subscriptionKey(event.userId, event.conversationId)
    const subscribers = this.#subscribers.get(key)
    if (!subscribers) return
    this.#forget(key)
    const text = JSON.stringify({ type: 'deleted', conversation_id: event.conversationId })
    for (const connection of subscribers) {
      connection.subscriptions?.delete(key)
      this.#sender.sendText(connection, text)
    }
  }
}
