import type { Logger } from 'pino'
import type { EventBus, PersistenceEvents, SharedEvents, Unsubscribe } from '../events/index.ts'
import type { MessageListener, RedisPort } from './client.ts'

type Topic = 'message.appended' | 'conversation.deleted'

interface Envelope {
  /** The instance that saved it: its own echo is dropped (its bus delivered it already). */
  from: string
  topic: Topic
  event: { userId: string; conversationId: string }
}

export interface RedisEventRelayOptions {
  redis: RedisPort
  bus: EventBus<PersistenceEvents>
  instanceId: string
  logger?: Logger
}

/**
 * Carries persistence events between instances: every event on this instance's bus is published
 * on its conversation's channel (`{conv:<id>}:events`), and the channels of watched conversations
 * are relayed onto the bus. Watches are reference counted per conversation; the Redis port restores
 * the channels after a reconnect. A failed publish is logged, never thrown into the write.
 */
export class RedisEventRelay implements SharedEvents {
  readonly #redis: RedisPort
  readonly #bus: EventBus<PersistenceEvents>
  readonly #instanceId: string
  readonly #logger: Logger | undefined
  readonly #watched = new Map<string, { count: number; listener: MessageListener }>()
  readonly #detach: Unsubscribe[]
  /** True while a relayed event is on the bus, so it is not published back. */
  #relaying = false
  #failing = false

  constructor(options: RedisEventRelayOptions) {
    this.#redis = options.redis
    this.#bus = options.bus
    this.#instanceId = options.instanceId
    this.#logger = options.logger
    this.#detach = (['message.appended', 'conversation.deleted'] as const).map((topic) =>
      this.#bus.subscribe(topic, (event) => this.#publish(topic, event)),
    )
  }

  #channel(conversationId: string): string {
    return this.#redis.key(`{conv:${conversationId}}`, 'events')
  }

  #publish(topic: Topic, event: Envelope['event']): void {
    if (this.#relaying) return
    const envelope: Envelope = { from: this.#instanceId, topic, event }
    this.#redis.publish(this.#channel(event.conversationId), JSON.stringify(envelope)).then(
      () => (this.#failing = false),
      (error) => {
        if (!this.#failing) this.#logger?.warn({ err: error }, 'could not publish a persistence event to Redis')
        this.#failing = true
      },
    )
  }

  watch(conversationId: string): Unsubscribe {
    let entry = this.#watched.get(conversationId)
    if (!entry) {
      entry = { count: 0, listener: (text) => this.#relay(text) }
      this.#watched.set(conversationId, entry)
      void this.#redis.subscribe(this.#channel(conversationId), entry.listener)
    }
    entry.count++
    let released = false
    return () => {
      if (released) return
      released = true
      const current = this.#watched.get(conversationId)
      if (!current || --current.count > 0) return
      this.#watched.delete(conversationId)
      void this.#redis.unsubscribe(this.#channel(conversationId), current.listener)
    }
  }

  /** Conversations watched now, for leak checks. */
  get watching(): number {
    return this.#watched.size
  }

  #relay(text: string): void {
    let envelope: Envelope
    try {
      envelope = JSON.parse(text)
    } catch {
      return
    }
    if (envelope.from === this.#instanceId) return
    this.#relaying = true
    try {
      this.#bus.publish(envelope.topic, envelope.event as PersistenceEvents[Topic])
    } finally {
      this.#relaying = false
    }
  }

  close(): void {
    for (const detach of this.#detach.splice(0)) detach()
    for (const [conversationId, entry] of this.#watched) void this.#redis.unsubscribe(this.#channel(conversationId), entry.listener)
    this.#watched.clear()
  }
}
