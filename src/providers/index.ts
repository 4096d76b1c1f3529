import type { Logger } from 'pino'
import type { Config } from '../config/index.ts'
import type { Clock } from '../kernel/clock.ts'
import { createBuiltinProvider } from './builtin/index.ts'
import { createOpenAIProvider } from './openai/index.ts'
import type { ChatProvider } from './ports.ts'

export * from './ports.ts'
export { BUILTIN_MODEL, createBuiltinProvider, type BuiltinProviderOptions } from './builtin/index.ts'
export { createOpenAIProvider, type OpenAIProviderOptions } from './openai/index.ts'

export interface CreateProviderOptions {
  /** Default: the global `fetch`. */
  fetch?: typeof fetch
  /** Receives retry and stream-junk notices from the OpenAI-compatible provider. Default: silent. */
  logger?: Logger
  /** Timeouts, retry waits and the built-in's pacing run on it. Default: the system clock. */
  clock?: Clock
}

/**
 * The configured chat provider: the built-in stand-in when `ai.base_url` is null, otherwise the
 * OpenAI-compatible provider for that URL (whose health check is `provider.health`).
 */
export function createProvider(ai: Config['ai'], options: CreateProviderOptions = {}): ChatProvider {
  if (ai.base_url === null) return createBuiltinProvider({ chunkDelayMs: ai.builtin.chunk_delay, clock: options.clock })
  return createOpenAIProvider({
    baseUrl: ai.base_url,
    apiKey: ai.api_key,
    model: ai.model,
    temperature: ai.temperature,
    maxTokens: ai.max_tokens,
    connectTimeoutMs: ai.connect_timeout,
    idleTimeoutMs: ai.idle_timeout,
    maxRetries: ai.max_retries,
    fetch: options.fetch,
    clock: options.clock,
    logger: options.logger?.child({ component: 'ai' }),
  })
}
export { providerProblem } from './problem.ts'
