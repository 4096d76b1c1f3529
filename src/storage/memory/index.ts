import type { WallClock } from '../../kernel/clock.ts'
import type { Stores } from '../ports.ts'
import { MemoryConversationStore } from './conversations.ts'
import { MemoryItemStore } from './memory-items.ts'

export { MemoryConversationStore } from './conversations.ts'
export { MemoryItemStore } from './memory-items.ts'

export interface MemoryStoresOptions {
  /** Timestamps for `createdAt`/`updatedAt`. Required so tests can freeze or step time. */
  clock: WallClock
}

/**
 * The embedded default: conversations and memory in process memory, Web APIs only (runs on every
 * runtime). Not persistent (`persistent: false`), so start-up warns; nothing to check or close.
 */
export function createMemoryStores(options: MemoryStoresOptions): Stores {
  return {
    conversations: new MemoryConversationStore(options),
    memory: new MemoryItemStore(options),
    persistent: false,
    close: async () => {},
  }
}
