import type { Logger } from 'pino'
import type { Config } from '../../config/index.ts'
import type { ChatProvider } from '../../providers/ports.ts'
import type { ConversationStore, MemoryStore } from '../../storage/ports.ts'
import { chatRoutes } from './chat.routes.ts'
import { createInMemoryJobManager, type JobManager } from './jobs.ts'
import { createChatService, type ChatService, type ChatTools } from './service.ts'
import type { StreamCounters } from './sse.ts'

export { chatRoutes, type ChatRoutesOptions } from './chat.routes.ts'
export { createInMemoryJobManager, eventData, type ChatJob, type DataEvent, type JobEvent, type JobManager, type JobStats, type TextEvent } from './jobs.ts'
export { createChatService, estimateTokens, fitHistory, resultOf, type ChatInput, type ChatResult, type ChatService, type ChatServiceOptions, type ChatTools } from './service.ts'
export { eventStream, eventStreamFormatter, FrameWriter, Heartbeats, uiMessageFormatter, type StreamCounters } from './sse.ts'

export interface ChatFeatureOptions {
  config: Pick<Config, 'chat' | 'tools' | 'ai'>
  conversations: ConversationStore
  memory?: MemoryStore
  provider: ChatProvider
  tools?: ChatTools
  logger?: Logger
  /** Milliseconds clock for job retention; default `Date.now`. */
  now?: () => number
  /** Replaces the in-memory job manager (e.g. a shared bus). */
  jobs?: JobManager
}

/** The chat service and its job manager, configured from `config.chat`/`tools`/`ai`. */
export function chatServiceFromConfig(options: ChatFeatureOptions): ChatService {
  const { config } = options
  return createChatService({
    conversations: options.conversations,
    memory: options.memory,
    provider: options.provider,
    tools: options.tools,
    jobs: options.jobs ?? createInMemoryJobManager({ retentionMs: config.chat.job_retention, now: options.now }),
    logger: options.logger,
    historyTokenBudget: config.chat.history_token_budget,
    memoryContextItems: config.chat.memory_context_items,
    maxToolRounds: config.tools.max_rounds,
    toolTimeoutMs: config.tools.timeout,
    idleTimeoutMs: config.chat.stream_idle_timeout,
    totalTimeoutMs: config.chat.stream_total_timeout,
    temperature: config.ai.temperature,
    maxTokens: config.ai.max_tokens,
  })
}

/** The chat router, configured from `config.chat`. */
export function chatRoutesFromConfig(service: ChatService, config: Pick<Config, 'chat'>, counters?: StreamCounters) {
  return chatRoutes({
    service,
    heartbeatMs: config.chat.heartbeat_interval,
    longPollTimeoutMs: config.chat.long_poll_timeout,
    maxMessageChars: config.chat.max_message_chars,
    counters,
  })
}

/** The chat service, its job manager and its router (tests and embedders). */
export function createChat(options: ChatFeatureOptions): { service: ChatService; jobs: JobManager; routes: ReturnType<typeof chatRoutes>; counters: StreamCounters } {
  const service = chatServiceFromConfig(options)
  const counters: StreamCounters = { open: 0 }
  return { service, jobs: service.jobs, routes: chatRoutesFromConfig(service, options.config, counters), counters }
}
export { chatGateway } from './gateway.ts'
