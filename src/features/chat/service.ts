import type { Logger } from 'pino'
import { toProblem } from '../../errors/problem.ts'
import { HttpProblem, problemBody, problems } from '../../kernel/problem.ts'
import type { ChatMessage, ChatProvider, ToolCall, ToolDefinition, Usage } from '../../providers/ports.ts'
import { ProviderError } from '../../providers/ports.ts'
import type { ConversationStore, MemoryStore, Message } from '../../storage/ports.ts'
import { IdTakenError } from '../../storage/ports.ts'
import type { ChatJob, DataEvent, JobManager } from './jobs.ts'
import { CLIENT_MESSAGE_ID, rewind, type Replacing } from './rewind.ts'

/** The part of the tool registry chat needs (src/features/tools implements it). */
export interface ChatTools {
  definitions(): ToolDefinition[]
  /** Throws a problem when the tool is unknown, the arguments are invalid or the tool fails. */
  execute(name: string, args: unknown, context: { userId: string; signal: AbortSignal }): Promise<{ result: unknown; duration_ms: number }>
}

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
}

/** What a finished job produced; also the `POST /chat` body. */
export interface ChatResult {
  message: string
  conversation_id: string
  message_id: string | null
  model: string
  tokens_used: number
  status: 'complete' | 'stopped' | 'error'
}

export interface ChatService {
  /** Checks the conversation, reserves it (409 when busy) and starts generating in the background. */
  start(userId: string, input: ChatInput): Promise<ChatJob>
  /** The conversation if the user owns it, else a 404 problem. */
  conversation(userId: string, conversationId: string): Promise<void>
  readonly jobs: JobManager
}

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

function providerProblem(error: ProviderError): HttpProblem {
  const status = error.code === 'timeout' ? 504 : error.code === 'rate_limited' || error.code === 'unavailable' ? 503 : 502
  return new HttpProblem(status, { detail: `The AI provider failed: ${error.message}`, extensions: { code: error.code }, cause: error })
}

function parseArguments(text: string): unknown {
  try {
    return text.trim() === '' ? {} : JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The one chat pipeline every transport (JSON, SSE, long-poll, WebSocket) runs. */
export function createChatService(options: ChatServiceOptions): ChatService {
  const { conversations, memory, provider, tools, jobs, logger } = options
  const historyTokenBudget = options.historyTokenBudget ?? 8_000
  const memoryItems = options.memoryContextItems ?? 3
  const maxRounds = options.maxToolRounds ?? 4
  const toolTimeoutMs = options.toolTimeoutMs ?? 10_000
  const totalTimeoutMs = options.totalTimeoutMs ?? 10 * 60_000
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000

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

  async function loadHistory(userId: string, conversationId: string): Promise<ChatMessage[]> {
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

  async function memoryContext(userId: string, query: string): Promise<ChatMessage | null> {
    if (!memory || memoryItems <= 0) return null
    try {
      const found = await memory.search(userId, { query, limit: memoryItems })
      if (found.length === 0) return null
      return { role: 'system', content: `Relevant notes the user asked you to remember:\n${found.map((m) => `- ${m.content}`).join('\n')}` }
    } catch (error) {
      logger?.warn({ err: error }, 'memory search failed; replying without memory context')
      return null
    }
  }

  async function runTool(job: ChatJob, call: ToolCall): Promise<{ content: string; data: Record<string, unknown> }> {
    const args = parseArguments(call.arguments)
    job.append('tool_call', { id: call.id, name: call.name, arguments: args ?? call.arguments })
    const started = Date.now()
    const controller = new AbortController()
    const onJobAbort = () => controller.abort(job.signal.reason)
    job.signal.addEventListener('abort', onJobAbort, { once: true })
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      if (args === undefined) throw problems.badRequest('The tool arguments are not valid JSON')
      if (!tools) throw problems.notFound(`Unknown tool ${call.name}`)
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort('timeout')
          reject(problems.gatewayTimeout(`The tool ${call.name} took longer than ${toolTimeoutMs} ms`))
        }, toolTimeoutMs)
      })
      const { result, duration_ms } = await Promise.race([tools.execute(call.name, args, { userId: job.userId, signal: controller.signal }), timedOut])
      job.append('tool_result', { id: call.id, name: call.name, result, duration_ms })
      return { content: JSON.stringify(result ?? null), data: { id: call.id, name: call.name, result } }
    } catch (error) {
      if (job.signal.aborted) throw error
      const problem = toProblem(error)
      const detail = problem.status >= 500 && !(error instanceof HttpProblem) ? 'The tool failed' : problem.detail ?? problem.title
      const failure = { status: problem.status, detail }
      job.append('tool_result', { id: call.id, name: call.name, error: failure, duration_ms: Date.now() - started })
      return { content: JSON.stringify({ error: detail }), data: { id: call.id, name: call.name, error: failure } }
    } finally {
      clearTimeout(timer)
      job.signal.removeEventListener('abort', onJobAbort)
    }
  }

  async function run(job: ChatJob, input: ChatInput, fresh: boolean): Promise<void> {
    const { userId, conversationId } = job
    // Joined when needed rather than concatenated per delta: `+=` builds a chain of one string node
    // per delta, which the garbage collector copies while the reply runs and the memory store keeps.
    const deltas: string[] = []
    let model = input.model ?? provider.defaultModel
    let usage: Usage | undefined
    let promptChars = 0
    const toolTrace: Record<string, unknown>[] = []
    let expired = 'total' as 'idle' | 'total'
    // Both budgets on one timer per job, re-armed only when it fires, so an event costs a clock read.
    const startedAt = Date.now()
    let lastActivity = startedAt
    const checkBudgets = () => {
      const now = Date.now()
      const totalLeft = totalTimeoutMs - (now - startedAt)
      const idleLeft = idleTimeoutMs - (now - lastActivity)
      if (totalLeft > 0 && idleLeft > 0) {
        budget = setTimeout(checkBudgets, Math.min(totalLeft, idleLeft))
        return
      }
      expired = totalLeft > 0 ? 'idle' : 'total'
      job.stop('timeout')
    }
    let budget = setTimeout(checkBudgets, Math.min(totalTimeoutMs, idleTimeoutMs))
    try {
      // Rewound once the job holds the conversation, so no other chat turn can interleave.
      if (!fresh && input.replacing) await rewind(conversations, userId, conversationId, input.replacing)
      const history = fresh ? [] : await loadHistory(userId, conversationId)
      const context = await memoryContext(userId, input.message)
      const clientId = input.replacing?.clientMessageId
      const data = clientId === undefined ? {} : { data: { [CLIENT_MESSAGE_ID]: clientId } }
      await conversations.appendMessage(userId, conversationId, { role: 'user', content: input.message, tokens: estimateTokens(input.message), ...data })
      const messages: ChatMessage[] = [...(context ? [context] : []), ...history, { role: 'user', content: input.message }]
      const definitions = tools?.definitions() ?? []
      for (let round = 0; ; round++) {
        const offerTools = definitions.length > 0 && round < maxRounds
        promptChars += messages.reduce((sum, m) => sum + (m.content?.length ?? 0), 0)
        const calls: ToolCall[] = []
        const roundStart = deltas.length
        for await (const event of provider.stream({
          messages,
          tools: offerTools ? definitions : undefined,
          model: input.model,
          temperature: input.temperature ?? options.temperature,
          maxTokens: input.maxTokens ?? options.maxTokens,
          signal: job.signal,
        })) {
          lastActivity = Date.now()
          if (event.type === 'text') {
            if (event.delta === '') continue
            deltas.push(event.delta)
            job.appendText(event.delta)
          } else if (event.type === 'tool_call') {
            calls.push(event.call)
          } else {
            model = event.model || model
            if (event.usage) {
              usage = {
                promptTokens: (usage?.promptTokens ?? 0) + event.usage.promptTokens,
                completionTokens: (usage?.completionTokens ?? 0) + event.usage.completionTokens,
                totalTokens: (usage?.totalTokens ?? 0) + event.usage.totalTokens,
              }
            }
          }
        }
        if (job.signal.aborted) throw job.signal.reason
        if (calls.length === 0 || !offerTools) break
        messages.push({ role: 'assistant', content: deltas.slice(roundStart).join('') || null, tool_calls: calls })
        for (const call of calls) {
          const outcome = await runTool(job, call)
          lastActivity = Date.now()
          toolTrace.push(outcome.data)
          messages.push({ role: 'tool', content: outcome.content, tool_call_id: call.id })
        }
      }
      await finish(job, input, 'complete', deltas.join(''), model, usage, promptChars, toolTrace)
    } catch (error) {
      if (job.signal.aborted && job.stopReason === 'stopped') {
        await finish(job, input, 'stopped', deltas.join(''), model, usage, promptChars, toolTrace)
        return
      }
      const problem = job.signal.aborted
        ? problems.gatewayTimeout(
            expired === 'idle'
              ? `The model sent nothing for ${idleTimeoutMs} ms`
              : `The reply took longer than ${totalTimeoutMs} ms`,
          )
        : error instanceof ProviderError
          ? providerProblem(error)
          : toProblem(error)
      if (problem.status >= 500 && !(error instanceof ProviderError) && !job.signal.aborted) logger?.error({ err: error, conversation_id: conversationId }, 'chat generation failed')
      if (deltas.length > 0) await persistReply(job, 'error', deltas.join(''), model, usage, toolTrace).catch(() => null)
      job.finish('error', 'error', problemBody(problem, input.requestId ?? job.id))
    } finally {
      clearTimeout(budget)
    }
  }

  async function persistReply(job: ChatJob, status: ChatResult['status'], text: string, model: string, usage: Usage | undefined, toolTrace: Record<string, unknown>[]) {
    return conversations.appendMessage(job.userId, job.conversationId, {
      role: 'assistant',
      content: text,
      status,
      tokens: usage?.completionTokens ?? estimateTokens(text),
      data: { model, stream_id: job.id, ...(toolTrace.length ? { tools: toolTrace } : {}) },
    })
  }

  async function finish(job: ChatJob, input: ChatInput, status: 'complete' | 'stopped', text: string, model: string, usage: Usage | undefined, promptChars: number, toolTrace: Record<string, unknown>[]) {
    let saved: Message | null = null
    try {
      saved = await persistReply(job, status, text, model, usage, toolTrace)
    } catch (error) {
      logger?.error({ err: error, conversation_id: job.conversationId }, 'could not persist the assistant reply')
      job.finish('error', 'error', problemBody(toProblem(error), input.requestId ?? job.id))
      return
    }
    const tokensUsed = usage?.totalTokens ?? Math.ceil(promptChars / 4) + estimateTokens(text)
    job.finish(status, 'done', {
      message_id: saved?.id ?? null,
      conversation_id: job.conversationId,
      model,
      tokens_used: tokensUsed,
      status,
    })
  }

  return {
    jobs,
    conversation,
    async start(userId, input) {
      const conversation = await resolveConversation(userId, input)
      const job = jobs.create({ userId, conversationId: conversation.id })
      void run(job, input, conversation.created)
      return job
    },
  }
}

/** The `POST /chat` answer from a finished job's log. */
export function resultOf(job: ChatJob): ChatResult {
  let message = ''
  for (const event of job.events) if (event.type === 'message') message += event.delta
  const last = job.events[job.events.length - 1] as DataEvent
  if (last?.type === 'error') {
    const body = last.data as { status: number; detail?: string; title?: string }
    throw new HttpProblem(body.status, { detail: body.detail, title: body.title })
  }
  const done = last.data as Omit<ChatResult, 'message'>
  return {
    message,
    conversation_id: done.conversation_id,
    message_id: done.message_id,
    model: done.model,
    tokens_used: done.tokens_used,
    status: done.status,
  }
}
