/** A listener for one topic's events. */
export type Listener<T> = (event: T) => void

/** Removes the listener it was returned for; calling it again does nothing. */
export type Unsubscribe = () => void

export interface EventBusOptions {
  /** Called when a listener throws; the other listeners still run. Default: the error is dropped. */
  onListenerError?: (error: unknown, topic: string) => void
}

/**
 * A tiny typed in-process publish/subscribe bus. `Topics` maps each topic name to its event type.
 * Delivery is synchronous and in subscription order; a topic with no listeners keeps no entry.
 */
export class EventBus<Topics extends Record<string, unknown>> {
  readonly #listeners = new Map<keyof Topics, Set<Listener<never>>>()
  readonly #onListenerError: EventBusOptions['onListenerError']

  constructor(options: EventBusOptions = {}) {
    this.#onListenerError = options.onListenerError
  }

  subscribe<K extends keyof Topics>(topic: K, listener: Listener<Topics[K]>): Unsubscribe {
    let set = this.#listeners.get(topic)
    if (!set) this.#listeners.set(topic, (set = new Set()))
    // A wrapper makes each subscription distinct, so subscribing one function twice needs two unsubscribes.
    const entry: Listener<Topics[K]> = (event) => listener(event)
    set.add(entry)
    return () => {
      const current = this.#listeners.get(topic)
      if (!current?.delete(entry)) return
      if (current.size === 0) this.#listeners.delete(topic)
    }
  }

  publish<K extends keyof Topics>(topic: K, event: Topics[K]): void {
    const set = this.#listeners.get(topic) as Set<Listener<Topics[K]>> | undefined
    if (!set) return
    for (const listener of set) {
      try {
        listener(event)
      } catch (error) {
        this.#onListenerError?.(error, String(topic))
      }
    }
  }

  /** Listeners on one topic, or on all topics; for leak tests and diagnostics. */
  listenerCount(topic?: keyof Topics): number {
    if (topic !== undefined) return this.#listeners.get(topic)?.size ?? 0
    let total = 0
    for (const set of this.#listeners.values()) total += set.size
    return total
  }
}
