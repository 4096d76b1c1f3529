import { StoreUnavailableError, type ConversationStore, type MemoryStore, type Stores } from '../../src/storage/ports.ts'

/** Stores whose every method rejects with `StoreUnavailableError`, as an unreachable database does; `calls` counts attempts. */
export function failingStores(): Stores & { calls: string[] } {
  const calls: string[] = []
  const failing = <T extends object>(methods: string[]): T =>
    Object.fromEntries(
      methods.map((name) => [
        name,
        async () => {
          calls.push(name)
          throw new StoreUnavailableError('connection refused (injected)')
        },
      ]),
    ) as T
  return {
    calls,
    conversations: failing<ConversationStore>(['create', 'get', 'list', 'update', 'delete', 'appendMessage', 'listMessages', 'dropMessagesAfter', 'count']),
    memory: failing<MemoryStore>(['store', 'search', 'list', 'delete', 'count']),
    persistent: true,
    close: async () => {},
  }
}
