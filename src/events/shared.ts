import type { Unsubscribe } from './bus.ts'

/**
 * Persistence events from the other instances. `watch` starts relaying one conversation's events
 * onto this instance's bus; the relay subscribes on the first watch of a conversation and
 * unsubscribes after its last one is released (reference counted). In one process there is
 * nothing to relay, so no adapter is the default.
 */
export interface SharedEvents {
  watch(conversationId: string): Unsubscribe
}
