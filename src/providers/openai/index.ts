import type { Logger } from 'pino'
import { systemClock, type Clock } from '../../kernel/clock.ts'
import type { HealthCheck } from '../../kernel/health.ts'
import { ProviderError, type ChatMessage, type ChatProvider, type ChatRequest, type ProviderEvent } from '../ports.ts'
import { ChunkParser } from './chunks.ts'
import { RetryableError, withRetries } from './retry.ts'
import { SseLineDecoder } from './sse.ts'
import { postForChunks, type TransportOptions } from './transport.ts'

export { parseRetryAfter } from './retry.ts'

export interface OpenAIProviderOptions {
  /** Base URL including the version segment, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  baseUrl: string
  /** Sent as `Authorization: Bearer …` when set. Default: none (local servers such as Ollama). */
  apiKey?: string | null
  /** Model used when a request names none, and reported when the upstream's chunks name none. */
  model: string
  /** Temperature used when a request gives none. Default: left to the server. */
  temperature?: number
  /** `max_tokens` used when a request gives none. Default: left to the server. */
  maxTokens?: number
  /** Time allowed until the response headers arrive. Default 10 000 ms. */
  connectTimeoutMs?: number
  /** Time allowed between two chunks of the stream. Default 60 000 ms. */
  idleTimeoutMs?: number
  /** Retries of a 429, a 5xx or a failed connection, only before anything was yielded. Default 2. */
  maxRetries?: number
  /** First backoff step; doubles per attempt, with jitter, capped at 8 s. Default 500 ms. */
  retryBaseMs?: number
  /** A `Retry-After` longer than this is not waited for: the error goes to the caller. Default 30 000 ms. */
  maxRetryAfterMs?: number
  /** Default: the global `fetch`. */
  fetch?: typeof fetch
  /** Timeouts and retry waits run on it. Default: the system clock. */
  clock?: Clock
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number
  /** Logs retries and tolerated junk at debug/warn level. Default: silent. */
  logger?: Pick<Logger, 'debug' | 'warn'>
}

const HEALTH_TIMEOUT_MS = 5_000

/**
 * A provider for any server that speaks OpenAI's Chat Completions API (OpenAI, Ollama, vLLM,
 * LiteLLM, llama.cpp …), over `fetch` so it runs on every runtime. The work is split three ways:
 * `transport.ts` and `retry.ts` move bytes (timeouts, abort, backoff), `sse.ts` and `chunks.ts`
 * turn them into events, `tool-calls.ts` assembles streamed tool calls.
 */
export function createOpenAIProvider(options: OpenAIProviderOptions): ChatProvider {
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init))
  const clock = options.clock ?? systemClock
  const logger = options.logger
  const transport: TransportOptions = {
    fetch: fetchImpl,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    clock,
  }
  const policy = {
    maxRetries: options.maxRetries ?? 2,
    retryBaseMs: options.retryBaseMs ?? 500,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 30_000,
    random: options.random ?? Math.random,
    clock,
    logger,
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' }
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`

  /** One HTTP exchange as events. A body that ends before the reply did is worth a retry. */
  async function* exchange(body: string, model: string, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const decoder = new SseLineDecoder()
    const parser = new ChunkParser(model, logger)
    for await (const chunk of postForChunks(`${baseUrl}/chat/completions`, { headers, body }, signal, transport)) {
      for (const payload of decoder.push(chunk)) {
        const events = parser.accept(payload)
        if (events) yield* events
        if (parser.done) return
      }
    }
    for (const payload of decoder.end()) {
      const events = parser.accept(payload)
      if (events) yield* events
      if (parser.done) return
    }
    // Some servers end the body without `[DONE]`; a finish_reason still makes it a complete reply.
    const events = parser.close()
    if (!events) throw new RetryableError(new ProviderError('upstream_error', 'The AI service ended the stream early'))
    yield* events
  }

  function stream(request: ChatRequest): AsyncIterable<ProviderEvent> {
    const model = request.model ?? options.model
    const body = JSON.stringify(requestBody(request, model, options))
    return withRetries(() => exchange(body, model, request.signal), request.signal, policy)
  }

  const health: HealthCheck = {
    name: 'ai_service',
    // `HealthChecks` aborts the signal when this passes.
    timeoutMs: HEALTH_TIMEOUT_MS,
    // An AI outage degrades chat but must not take the whole instance out of the load balancer.
    critical: false,
    async check(signal: AbortSignal) {
      const response = await fetchImpl(`${baseUrl}/models`, {
        headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
        signal,
      })
      await response.body?.cancel().catch(() => {})
      if (!response.ok) throw new Error(`the AI service answered ${response.status}`)
    },
  }

  return { name: 'openai', defaultModel: options.model, stream, health }
}

function requestBody(request: ChatRequest, model: string, options: OpenAIProviderOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model,
    messages: request.messages.map(wireMessage),
    stream: true,
    stream_options: { include_usage: true },
  }
  const temperature = request.temperature ?? options.temperature
  if (temperature !== undefined) body.temperature = temperature
  const maxTokens = request.maxTokens ?? options.maxTokens
  if (maxTokens !== undefined) body.max_tokens = maxTokens
  if (request.topP !== undefined) body.top_p = request.topP
  if (request.stop !== undefined && request.stop.length > 0) body.stop = request.stop
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: 'function',
      function: { name: tool.name, description: tool.description, parameters: tool.parameters },
    }))
    if (request.toolChoice !== undefined) body.tool_choice = request.toolChoice
  }
  return body
}

function wireMessage(message: ChatMessage): Record<string, unknown> {
  if (message.role === 'assistant' && message.tool_calls && message.tool_calls.length > 0) {
    return {
      role: 'assistant',
      content: message.content,
      tool_calls: message.tool_calls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      })),
    }
  }
  return message
}
