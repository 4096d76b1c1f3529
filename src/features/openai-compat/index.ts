import type { Config } from '../../config/index.ts'
import type { Clock } from '../../kernel/clock.ts'
import type { ChatProvider } from '../../providers/ports.ts'
import type { ConversationStore, MemoryStore } from '../../storage/ports.ts'
import type { ChatTools } from '../chat/index.ts'
import { createCompletions } from './completion.ts'
import { offeredModels } from './models.ts'
import { openAIRoutes } from './openai.routes.ts'

export { createCompletions, type Completion, type CompletionInput, type Completions, type OptIns } from './completion.ts'
export { OPENAI_ERRORS, openAIError, type OpenAIError } from './errors.ts'
export { offeredModels, type OfferedModels } from './models.ts'
export { openAIRoutes, type OpenAIRoutesOptions } from './openai.routes.ts'

export interface OpenAICompatOptions {
  config: Pick<Config, 'ai' | 'chat' | 'tools' | 'server'>
  provider: ChatProvider
  /** The server's tools, run only for requests with `X-Assistant-Tools: on`. */
  tools?: ChatTools
  conversations: ConversationStore
  memory?: MemoryStore
  clock: Clock
  /** The chat feature's admission of one generation (see `CompletionsOptions.admit`). */
  admit?: (userId: string) => Promise<() => void>
}

/** The `/v1` router, configured from `config.ai` (models), `config.chat` and `config.tools`. */
export function openAIRoutesFromConfig(options: OpenAICompatOptions) {
  const { config, provider, clock } = options
  return openAIRoutes({
    completions: createCompletions({
      provider,
      tools: options.tools,
      conversations: options.conversations,
      memory: options.memory,
      memoryContextItems: config.chat.memory_context_items,
      maxToolRounds: config.tools.max_rounds,
      toolTimeoutMs: config.tools.timeout,
      clock,
      admit: options.admit,
    }),
    models: offeredModels(provider, config.ai.models, clock.now()),
    heartbeatMs: config.chat.heartbeat_interval,
    deadlineMs: config.server.request_timeout,
    clock,
  })
}
