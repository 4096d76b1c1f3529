import type { Logger } from 'pino'
import { toProblem } from '../../errors/problem.ts'
import { systemClock, type Clock } from '../../kernel/clock.ts'
import { problems } from '../../kernel/problem.ts'
import { ProviderError, type ChatProvider } from '../../providers/ports.ts'
import { providerProblem } from '../../providers/problem.ts'
import { IdTakenError, type ConversationStore, type MemoryStore } from '../../storage/ports.ts'
import { createAdmission, type Admission, type Release } from './admission.ts'
import { GenerationBudget } from './budget.ts'
import { createContextBuilder, estimateTokens } from './context.ts'
import type { ChatJob, JobManager } from './jobs.ts'
import { createChatPersistence } from './persistence.ts'
import { errorEventData } from './result.ts'
import { rewind, type Replacing } from './rewind.ts'
import { createToolLoop, Reply, type ChatTools, type ModelSettings } from './tool-loop.ts'

export interface ChatInput {
  message: string
  conversationId?: string
  /** With `conversationId`: create the conversation under that id if the caller has none (AI SDK `useChat`). */
  createIfMissing?: boolean
  model?: string
  temperature?: number
  maxTokens?: number
  /** Carried into `error` events as the problem's `request_id`. */
  requestId?: string
  /** This turn replaces an earlier one (AI SDK resubmit and regenerate); see `rewind`. */
  replacing?: Replacing
}

export interface ChatServiceOptions {
  conversations: ConversationStore
  memory?: MemoryStore
  provider: ChatProvider
  tools?: ChatTools
  jobs: JobManager
  logger?: Logger
  /** The generation budgets and tool timeouts run on it. Default: the system clock. */
  clock?: Clock
  /** Token budget for past messages (config `chat.history_token_budget`, default 8000). */
  historyTokenBudget?: number
  /** Memory items added as context (config `chat.memory_context_items`, default 3; 0 turns it off). */
  memoryContextItems?: number
  /** Tool rounds per reply (config `tools.max_rounds`, default 4). */
  maxToolRounds?: number
  /** Per tool call, in ms (config `tools.timeout`, default 10 s). */
  toolTimeoutMs?: number
  /** Longest wait for the model's next event, in ms (config `chat.stream_idle_timeout`, default 60 s). */
  idleTimeoutMs?: number
  /** Whole generation budget, in ms (config `chat.stream_total_timeout`, default 10 min). */
  totalTimeoutMs?: number
  /** Defaults for the provider call (config `ai.temperature`, `ai.max_tokens`). */
  temperature?: number
  maxTokens?: number
  /** Message checks, start budget and running cap per user. Default: the message checks at 32768 characters, no caps. */
  admission?: Admission
}

export interface ChatService {
  /**
   * Checks the message and the user's budgets (400, 429), the conversation, reserves it (409 when
   * busy) and starts generating in the background.
   */
  start(userId: string, input: ChatInput): Promise<ChatJob>
  /**
   * Takes one of the user's generation slots and a start from their budget (429 problem when spent),
   * for generations that run outside `start` (the OpenAI-compatible completions).
   */
  admit(userId: string): Promise<Release>
  /** The conversation if the user owns it, else a 404 problem. */
  conversation(userId: string, conversationId: string): Promise<void>
  readonly jobs: JobManager
}

/**
 * The one chat pipeline every transport (JSON, SSE, long-poll, WebSocket) runs. A generation is a
 * job: its context is built (`context.ts`), the user's message stored, the model and its tools run
 * (`tool-loop.ts`) within the time budgets (`budget.ts`), and the reply stored with how it ended
 * (`persistence.ts`) before the job's log ends with `done` or `error`.
 */
export function createChatService(options: ChatServiceOptions): ChatService {
  const { conversations, provider, jobs, logger } = options
  const clock = options.clock ?? systemClock
  const totalTimeoutMs = options.totalTimeoutMs ?? 10 * 60_000
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000
  const context = createContextBuilder({
    conversations,
    memory: options.memory,
    historyTokenBudget: options.historyTokenBudget ?? 8_000,
    memoryContextItems: options.memoryContextItems ?? 3,
    logger,
  })
  const loop = createToolLoop({ provider, tools: options.tools, maxRounds: options.maxToolRounds ?? 4, toolTimeoutMs: options.toolTimeoutMs ?? 10_000, clock })
  const store = createChatPersistence(conversations)
  const admission = options.admission ?? createAdmission({ maxMessageChars: 32_768, maxActivePerUser: 0 })

  async function conversation(userId: string, conversationId: string) {
    if (!(await conversations.get(userId, conversationId))) throw problems.notFound('Conversation not found')
  }

  /** The conversation id, and whether it was just created (so it has no history to load). */
  async function resolveConversation(userId: string, input: ChatInput): Promise<{ id: string; created: boolean }> {
    if (!input.conversationId) return { id: (await conversations.create(userId, { title: input.message.slice(0, 80) })).id, created: true }
    if (await conversations.get(userId, input.conversationId)) return { id: input.conversationId, created: false }
    if (!input.createIfMissing) throw problems.notFound('Conversation not found')
    try {
      return { id: (await conversations.create(userId, { id: input.conversationId, title: input.message.slice(0, 80) })).id, created: true }
    } catch (error) {
      // Someone else's id looks exactly like a missing one.
      if (error instanceof IdTakenError) throw problems.notFound('Conversation not found')
      throw error
    }
  }

  function settings(input: ChatInput): ModelSettings {
    return { model: input.model, temperature: input.temperature ?? options.temperature, maxTokens: input.maxTokens ?? options.maxTokens }
  }

  async function run(job: ChatJob, input: ChatInput, fresh: boolean): Promise<void> {
    // Until the provider says otherwise: a model named in the request is not necessarily what answered.
    const reply = new Reply(provider.defaultModel)
    const budget = new GenerationBudget(job, clock, idleTimeoutMs, totalTimeoutMs)
    try {
      // Rewound once the job holds the conversation, so no other chat turn can interleave.
      if (!fresh && input.replacing) await rewind(conversations, job.userId, job.conversationId, input.replacing)
      const messages = await context.build(job.userId, job.conversationId, input.message, fresh)
      await store.saveUserMessage(job, input.message, input.replacing?.clientMessageId)
      await loop.run(job, messages, reply, settings(input), () => budget.touch())
      await finish(job, input, 'complete', reply)
    } catch (error) {
      if (job.signal.aborted && job.stopReason === 'stopped') await finish(job, input, 'stopped', reply)
      else await fail(job, input, error, reply, budget)
    } finally {
      budget.clear()
    }
  }

  /** Stores the reply, then ends the log with `done`; a reply that cannot be stored ends it with `error`. */
  async function finish(job: ChatJob, input: ChatInput, status: 'complete' | 'stopped', reply: Reply) {
    let saved
    try {
      saved = await store.saveReply(job, status, reply)
    } catch (error) {
      logger?.error({ err: error, conversation_id: job.conversationId }, 'could not persist the assistant reply')
      job.finish('error', 'error', errorEventData(toProblem(error), input.requestId ?? job.id))
      return
    }
    job.finish(status, 'done', {
      message_id: saved?.id ?? null,
      conversation_id: job.conversationId,
      model: reply.model,
      tokens_used: reply.usage?.totalTokens ?? Math.ceil(reply.promptChars / 4) + estimateTokens(reply.text()),
      status,
    })
  }

  /** Keeps what was said (as `error`) and ends the log with the problem. */
  async function fail(job: ChatJob, input: ChatInput, error: unknown, reply: Reply, budget: GenerationBudget) {
    const aborted = job.signal.aborted
    const problem = (aborted && budget.problem()) || (error instanceof ProviderError ? providerProblem(error) : toProblem(error))
    if (problem.status >= 500 && !(error instanceof ProviderError) && !aborted) logger?.error({ err: error, conversation_id: job.conversationId }, 'chat generation failed')
    if (reply.deltas.length > 0) await store.saveReply(job, 'error', reply).catch(() => null)
    job.finish('error', 'error', errorEventData(problem, input.requestId ?? job.id))
  }

  return {
    jobs,
    conversation,
    admit: (userId) => admission.admit(userId),
    async start(userId, input) {
      admission.checkMessage(input.message)
      const release = await admission.admit(userId)
      let job: ChatJob
      let created: boolean
      try {
        const conversation = await resolveConversation(userId, input)
        created = conversation.created
        job = await jobs.create({ userId, conversationId: conversation.id })
      } catch (error) {
        release()
        throw error
      }
      void job.finished.then(release, release)
      void run(job, input, created)
      return job
    },
  }
}
