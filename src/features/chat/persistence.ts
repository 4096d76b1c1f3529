import type { ConversationStore, Message } from '../../storage/ports.ts'
import { estimateTokens } from './context.ts'
import type { ChatJob } from './jobs.ts'
import { CLIENT_MESSAGE_ID } from './rewind.ts'
import type { Reply } from './tool-loop.ts'

/** How a stored reply ended. */
export type ReplyStatus = 'complete' | 'stopped' | 'error'

/** What a generation stores in its conversation: the user's message first, the assistant's reply last. */
export interface ChatPersistence {
  /** `clientMessageId`: the client's own id for the message (AI SDK), kept so a resubmit replaces it. */
  saveUserMessage(job: Pick<ChatJob, 'userId' | 'conversationId'>, text: string, clientMessageId?: string): Promise<Message | null>
  /** The reply with its status; `data` records the model that answered, the stream id and the tool trace. */
  saveReply(job: Pick<ChatJob, 'id' | 'userId' | 'conversationId'>, status: ReplyStatus, reply: Reply): Promise<Message | null>
}

export function createChatPersistence(conversations: Pick<ConversationStore, 'appendMessage'>): ChatPersistence {
  return {
    saveUserMessage(job, text, clientMessageId) {
      const data = clientMessageId === undefined ? {} : { data: { [CLIENT_MESSAGE_ID]: clientMessageId } }
      return conversations.appendMessage(job.userId, job.conversationId, { role: 'user', content: text, tokens: estimateTokens(text), ...data })
    },
    saveReply(job, status, reply) {
      const text = reply.text()
      return conversations.appendMessage(job.userId, job.conversationId, {
        role: 'assistant',
        content: text,
        status,
        tokens: reply.usage?.completionTokens ?? estimateTokens(text),
        data: { model: reply.model, stream_id: job.id, ...(reply.toolTrace.length ? { tools: reply.toolTrace } : {}) },
      })
    },
  }
}
