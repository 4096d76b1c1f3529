import type { Logger } from 'pino'
import type { Config } from '../../config/index.ts'
import type { Clock } from '../../kernel/clock.ts'
import type { ChatProvider } from '../../providers/ports.ts'
import type { ConversationStore, MemoryStore } from '../../storage/ports.ts'
import type { BucketStore } from '../../middleware/rate-limit/index.ts'
import { createAdmission } from './admission.ts'
import { chatRoutes } from './chat.routes.ts'
import { createInMemoryJobManager, type JobManager } from './jobs.ts'
import { createChatService, type ChatService } from './service.ts'
import type { StreamCounters } from './sse.ts'
import type { ChatTools } from './tool-loop.ts'

export { createAdmission, type Admission, type AdmissionOptions } from './admission.ts'
export { chatRoutes, type ChatRoutesOptions } from './chat.routes.ts'
export { createContextBuilder, estimateTokens, fitHistory, type ContextBuilder } from './context.ts'
export { eventStreamFormatter, uiMessageFormatter, type FrameFormatter } from './formatters.ts'
export { chatGateway } from './gateway.ts'
export { createInMemoryJobManager, eventData, type ChatJob, type DataEvent, type InMemoryJobManager, type JobEvent, type JobHandle, type JobListener, type JobManager, type JobStats, type JobStatus, type TextEvent } from './jobs.ts'
export { resultOf, type ChatResult } from './result.ts'
export { createChatService, type ChatInput, type ChatService, type ChatServiceOptions } from './service.ts'
export { eventStream, FrameWriter, Heartbeats, sseResponse, type StreamCounters } from './sse.ts'
export { createToolLoop, Reply, type ChatTools, type LoopSink, type ModelSettings, type ToolLoop } from './tool-loop.ts'
export { createChatPersistence, type ChatPersistence } from './persistence.ts'

export interface ChatFeatureOptions {
  config: Pick<Config, 'chat' | 'tools' | 'ai'>
  conversations: ConversationStore
  memory?: MemoryStore
  provider: ChatProvider
  tools?: ChatTools
  logger?: Logger
  /** Job retention, generation budgets, tool timeouts, heartbeats and long-polls run on it. Default: the system clock. */
  clock?: Clock
  /** Replaces the in-memory job manager (e.g. a shared bus). */
  jobs?: JobManager
  /** Where the per-user chat start budget is kept (the rate limiter's store); without it starts are not budgeted. */
  startBudgets?: BucketStore
}

/** The chat service and its job manager, configured from `config.chat`/`tools`/`ai`. */
export function chatServiceFromConfig(options: ChatFeatureOptions): ChatService {
  const { config, clock } = options
  return createChatService({
    conversations: options.conversations,
    memory: options.memory,
    provider: options.provider,
    tools: options.tools,
    jobs: options.jobs ?? createInMemoryJobManager({ retentionMs: config.chat.job_retention, clock }),
    logger: options.logger,
    clock,
    historyTokenBudget: config.chat.history_token_budget,
    memoryContextItems: config.chat.memory_context_items,
    maxToolRounds: config.tools.max_rounds,
    toolTimeoutMs: config.tools.timeout,
    idleTimeoutMs: config.chat.stream_idle_timeout,
    totalTimeoutMs: config.chat.stream_total_timeout,
    temperature: config.ai.temperature,
    maxTokens: config.ai.max_tokens,
    admission: createAdmission({
      maxMessageChars: config.chat.max_message_chars,
      maxActivePerUser: config.chat.max_active_per_user,
      starts: options.startBudgets && {
        store: options.startBudgets,
        spec: { capacity: config.chat.start_burst, refillPerSecond: config.chat.starts_per_minute / 60 },
      },
    }),
  })
}

/** The chat router, configured from `config.chat`. */
export function chatRoutesFromConfig(
  service: ChatService,
  config: Pick<Config, 'chat'>,
  options: { counters?: StreamCounters; clock?: Clock } = {},
) {
  return chatRoutes({
    service,
    heartbeatMs: config.chat.heartbeat_interval,
    longPollTimeoutMs: config.chat.long_poll_timeout,
    maxMessageChars: config.chat.max_message_chars,
    counters: options.counters,
    clock: options.clock,
  })
}

/** The chat service, its job manager and its router (tests and embedders). */
export function createChat(options: ChatFeatureOptions): { service: ChatService; jobs: JobManager; routes: ReturnType<typeof chatRoutes>; counters: StreamCounters } {
  const service = chatServiceFromConfig(options)
  const counters: StreamCounters = { open: 0 }
  return { service, jobs: service.jobs, routes: chatRoutesFromConfig(service, options.config, { counters, clock: options.clock }), counters }
}
