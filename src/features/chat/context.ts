import type { Logger } from 'pino'
import { problems } from '../../kernel/problem.ts'
import type { ChatMessage } from '../../providers/ports.ts'
import type { ConversationStore, MemoryStore, Message } from '../../storage/ports.ts'

/** ≈ tokens of a text; a rough 4 chars per token is enough for budgeting. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4)
}

/** The newest messages that fit the budget, oldest first. */
export function fitHistory(messages: readonly Message[], budget: number): Message[] {
  const kept: Message[] = []
  let used = 0
  for (let i = messages.length - 1; i >= 0; i--) {
    const cost = estimateTokens(messages[i].content)
    if (used + cost > budget) break
    used += cost
    kept.push(messages[i])
  }
  return kept.reverse()
}

export interface ContextOptions {
  conversations: Pick<ConversationStore, 'listMessages'>
  /** Source of the memory notes; without it there are none. */
  memory?: Pick<MemoryStore, 'search'>
  /** Token budget for past messages (config `chat.history_token_budget`). */
  historyTokenBudget: number
  /** Memory items added as context (config `chat.memory_context_items`; 0 turns it off). */
  memoryContextItems: number
  /** A failed memory search is logged here and the reply goes on without it. */
  logger?: Logger
}

export interface ContextBuilder {
  /**
   * The messages for the model's first round: the user's relevant memory notes, the conversation's
   * past messages within the token budget, then the new message. Reads only: call it before the new
   * message is stored, so the history does not hold it twice. `fresh`: a conversation just created,
   * with no history to load.
   */
  build(userId: string, conversationId: string, message: string, fresh: boolean): Promise<ChatMessage[]>
  /** The user's memory notes relevant to `query`, as one system message; null when there are none. */
  notes(userId: string, query: string): Promise<ChatMessage | null>
}

/** What the model sees of the past: memory notes and history, bounded. */
export function createContextBuilder(options: ContextOptions): ContextBuilder {
  const { conversations, memory, historyTokenBudget, memoryContextItems, logger } = options

  async function history(userId: string, conversationId: string): Promise<ChatMessage[]> {
    const all: Message[] = []
    let cursor: string | undefined
    do {
      const page = await conversations.listMessages(userId, conversationId, { limit: 100, cursor })
      if (!page) throw problems.notFound('Conversation not found')
      all.push(...page.items)
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    const relevant = all.filter((m) => m.role === 'user' || m.role === 'assistant' || m.role === 'system')
    return fitHistory(relevant, historyTokenBudget).map((m) =>
      m.role === 'assistant' ? { role: 'assistant', content: m.content } : { role: m.role as 'user' | 'system', content: m.content },
    )
  }

  async function notes(userId: string, query: string): Promise<ChatMessage | null> {
    if (!memory || memoryContextItems <= 0) return null
    try {
      const found = await memory.search(userId, { query, limit: memoryContextItems })
      if (found.length === 0) return null
      return { role: 'system', content: `Relevant notes the user asked you to remember:\n${found.map((m) => `- ${m.content}`).join('\n')}` }
    } catch (error) {
      logger?.warn({ err: error }, 'memory search failed; replying without memory context')
      return null
    }
  }

  return {
    async build(userId, conversationId, message, fresh) {
      const past = fresh ? [] : await history(userId, conversationId)
      const context = await notes(userId, message)
      return [...(context ? [context] : []), ...past, { role: 'user', content: message }]
    },
    notes,
  }
}
