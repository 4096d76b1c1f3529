import type { ConversationStore, Message } from '../../storage/ports.ts'

/** Where a user message's client-side id is kept (`Message.data`), e.g. the AI SDK's `UIMessage.id`. */
export const CLIENT_MESSAGE_ID = 'client_message_id'

/** What a turn replaces, if anything: see `rewind`. */
export interface Replacing {
  /** The client's id of the user message this turn answers, when it has one. */
  clientMessageId?: string
  /** The AI SDK's `regenerate-message`: the last turn is answered anew even when no stored message has that id. */
  regenerate: boolean
}

async function allMessages(conversations: ConversationStore, userId: string, conversationId: string): Promise<Message[]> {
  const all: Message[] = []
  let cursor: string | undefined
  do {
    const page = await conversations.listMessages(userId, conversationId, { limit: 100, cursor })
    if (!page) return all
    all.push(...page.items)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  return all
}

/**
 * Rewinds a conversation so the coming turn replaces an earlier one instead of adding to it: the
 * stored user message with the same client id, and everything after it, are dropped (the turn then
 * stores that user message again and a new reply). So a resubmitted message (the same id sent again,
 * or edited through `sendMessage({ messageId })`) is stored once, and `regenerate()` replaces the
 * last reply rather than growing a second copy of the question. A regenerate whose id matches no
 * stored message (a conversation from before ids were kept) replaces the last user turn.
 * Resolves with how many messages were dropped.
 */
export async function rewind(conversations: ConversationStore, userId: string, conversationId: string, replacing: Replacing): Promise<number> {
  const messages = await allMessages(conversations, userId, conversationId)
  const { clientMessageId } = replacing
  let from = clientMessageId === undefined ? -1 : messages.findLastIndex((m) => m.role === 'user' && m.data?.[CLIENT_MESSAGE_ID] === clientMessageId)
  if (from === -1 && replacing.regenerate) from = messages.findLastIndex((m) => m.role === 'user')
  if (from === -1) return 0
  return (await conversations.dropMessagesAfter(userId, conversationId, messages[from].seq - 1)) ?? 0
}
