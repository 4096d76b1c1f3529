import type { Clock } from '../../kernel/clock.ts'
import { problems } from '../../kernel/problem.ts'
import type { ChatProvider, ToolCall, Usage } from '../../providers/ports.ts'
import { IdTakenError, type ConversationStore, type MemoryStore } from '../../storage/ports.ts'
import { createChatPersistence, createContextBuilder, createToolLoop, estimateTokens, Reply, type ChatTools, type LoopSink } from '../chat/index.ts'
import { chatMessages, clientTools, modelSettings, type CompletionRequest } from './schema.ts'

/** The assistant's own features a request asked for (headers `X-Conversation-Id`, `X-Assistant-Memory`, `X-Assistant-Tools`). */
export interface OptIns {
  /** Persist the exchange in this conversation of the caller (created when it has none of that id). */
  conversationId?: string
  /** Add the caller's relevant memory notes as a system message. */
  memory: boolean
  /** Offer the server's tools and run them server-side. */
  tools: boolean
}

export interface CompletionInput {
  userId: string
  /** The `chatcmpl-…` id; also the stored reply's `stream_id`. */
  id: string
  request: CompletionRequest
  optIns: OptIns
  /** The client going away aborts it: the upstream call is cancelled with it. */
  signal: AbortSignal
}

export type CompletionFinish = 'stop' | 'length' | 'tool_calls' | 'content_filter'

/** What one completion produced. */
export interface Completion {
  text: string
  /** Calls of the client's tools, for the client to answer with `tool` messages. */
  toolCalls: ToolCall[]
  finishReason: CompletionFinish
  /** The model that answered, as the provider reported it. */
  model: string
  usage: Usage
}

/** Where a streamed completion goes as it is produced. */
export interface CompletionHooks {
  /** Every text delta, in order. */
  onText?(delta: string): void
  /** Every provider event and tool result: the first one means the model is answering. */
  onActivity?(): void
}

export interface CompletionsOptions {
  provider: ChatProvider
  /** The server's tools, offered only to requests that opt in. */
  tools?: ChatTools
  conversations: ConversationStore
  memory?: MemoryStore
  /** Memory notes per request that opts in (config `chat.memory_context_items`). */
  memoryContextItems: number
  /** Server tool rounds (config `tools.max_rounds`) and per-call timeout (config `tools.timeout`). */
  maxToolRounds: number
  toolTimeoutMs: number
  clock: Clock
  /**
   * Admits one generation of the user before the model is called and returns its release (the chat
   * feature's per-user running cap and start budget, shared with every other transport); throws a
   * problem (429) to refuse. Default: every completion is admitted.
   */
  admit?: (userId: string) => Promise<() => void>
}

/**
 * Chat Completions on the chat feature's parts, without a job: the client sends the whole
 * conversation each time, so nothing runs after it has gone. The tool loop runs the model (and, when
 * asked, the server's tools); the client's own tool calls end it and go back to the client.
 */
export function createCompletions(options: CompletionsOptions) {
  const { provider, conversations, clock } = options
  const loopOptions = { provider, maxRounds: options.maxToolRounds, toolTimeoutMs: options.toolTimeoutMs, clock }
  const plainLoop = createToolLoop(loopOptions)
  const serverToolLoop = createToolLoop({ ...loopOptions, tools: options.tools })
  const context = createContextBuilder({ conversations, memory: options.memory, historyTokenBudget: 0, memoryContextItems: options.memoryContextItems })
  const store = createChatPersistence(conversations)

  /** The caller's conversation of that id, created on first use; someone else's is a 404. */
  async function ensureConversation(userId: string, conversationId: string, title: string): Promise<void> {
    if (await conversations.get(userId, conversationId)) return
    try {
      await conversations.create(userId, { id: conversationId, title: title.slice(0, 80) || 'Chat' })
    } catch (error) {
      if (error instanceof IdTakenError) throw problems.notFound('Conversation not found')
      throw error
    }
  }

  async function run(input: CompletionInput, hooks: CompletionHooks = {}): Promise<Completion> {
    const release = await options.admit?.(input.userId)
    try {
      return await generate(input, hooks)
    } finally {
      release?.()
    }
  }

  async function generate(input: CompletionInput, hooks: CompletionHooks): Promise<Completion> {
    const { userId, request, optIns, signal } = input
    const messages = chatMessages(request)
    const lastUser = messages.findLast((m) => m.role === 'user')?.content ?? ''
    const job = optIns.conversationId === undefined ? undefined : { id: input.id, userId, conversationId: optIns.conversationId }
    if (job) {
      await ensureConversation(userId, job.conversationId, lastUser)
      if (messages.at(-1)?.role === 'user') await store.saveUserMessage(job, lastUser)
    }
    if (optIns.memory && lastUser) {
      const notes = await context.notes(userId, lastUser)
      if (notes) messages.unshift(notes)
    }

    const reply = new Reply(provider.defaultModel)
    const sink: LoopSink = { userId, signal, appendText: (delta: string) => hooks.onText?.(delta), append: () => {} }
    const loop = optIns.tools ? serverToolLoop : plainLoop
    let toolCalls: ToolCall[]
    try {
      toolCalls = await loop.run(sink, messages, reply, modelSettings(request), () => hooks.onActivity?.(), clientTools(request) ?? [])
    } catch (error) {
      if (job && reply.deltas.length > 0) await store.saveReply(job, signal.aborted ? 'stopped' : 'error', reply).catch(() => null)
      throw error
    }
    if (job) await store.saveReply(job, 'complete', reply)
    return { text: reply.text(), toolCalls, finishReason: finishOf(reply, toolCalls), model: reply.model, usage: usageOf(reply) }
  }

  return { run }
}

export type Completions = ReturnType<typeof createCompletions>

function finishOf(reply: Reply, toolCalls: ToolCall[]): CompletionFinish {
  if (toolCalls.length > 0) return 'tool_calls'
  const reason = reply.finishReason
  return reason === 'length' || reason === 'content_filter' ? reason : 'stop'
}

/** The provider's counts, else the same four-characters-a-token estimate the chat feature uses. */
function usageOf(reply: Reply): Usage {
  if (reply.usage) return reply.usage
  const promptTokens = Math.ceil(reply.promptChars / 4)
  const completionTokens = estimateTokens(reply.text())
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }
}
